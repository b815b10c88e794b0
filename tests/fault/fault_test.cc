// Fault tests with real processes: a coordinator and workers each run in their own forked process
// (the `edgefarm coordinator` / `edgefarm worker` command functions), talking real ZeroMQ over TCP
// and HTTP; jobs are real child processes. Faults are real: SIGKILL to a worker or the
// coordinator mid-run, SIGSTOP to a worker (from the coordinator's side indistinguishable from a
// network partition), and a real partition: a worker in its own network namespace behind a veth
// pair whose link is taken down and brought up again. Every wait is WaitFor on an observable
// condition, never a sleep.
#include <sched.h>

#include <cstdlib>

#include "farm_fixture.h"

namespace edgefarm::fault {
namespace {

TEST_F(FarmTest, SigkilledWorkersJobCompletesOnAnotherWorker) {
  StartCoordinator();
  StartWorker("alpha");
  const fs::path gate = dir_ / "gate";
  const std::string run = Submit("name: kill-worker\nsteps:\n" + GatedStep("long", gate));
  std::string first;
  ASSERT_TRUE(WaitFor([&] { return !(first = RunningOn(run, "long")).empty(); }, kLong));
  StartWorker("beta");
  Kill("alpha", SIGKILL);
  testing::WriteFile(gate, "open");
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong)) << Run(run).dump(2);
  const json attempts = Run(run)["jobs"][0]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << attempts.dump(2);
  EXPECT_EQ(attempts[0]["outcome"], "infra_error");
  EXPECT_NE(attempts[0]["reason"].get<std::string>().find("lost"), std::string::npos);
  EXPECT_EQ(attempts[1]["outcome"], "succeeded");
  EXPECT_NE(attempts[0]["worker"], attempts[1]["worker"]);
}

TEST_F(FarmTest, SigkilledCoordinatorRestartsAndEveryJobSucceedsExactlyOnce) {
  StartCoordinator();
  StartWorker("alpha", 2);
  StartWorker("beta", 2);
  const fs::path gate = dir_ / "gate";
  std::string yaml = "name: kill-coordinator\nsteps:\n";
  for (int i = 0; i < 3; ++i) {
    yaml += "  - name: quick" + std::to_string(i) + "\n    run: [sh, -c, \"echo quick\"]\n";
  }
  for (int i = 0; i < 3; ++i) yaml += GatedStep("gated" + std::to_string(i), gate);
  const std::string run = Submit(yaml);
  ASSERT_TRUE(WaitFor(
      [&] {
        json r = Run(run);
        int running = 0;
        for (const auto& j : r["jobs"]) running += j["state"] == "running" ? 1 : 0;
        return running >= 2;
      },
      kLong));
  Kill("coordinator", SIGKILL);
  fs::remove(dir_ / "data" / "endpoints.json");
  testing::WriteFile(gate, "open");  // the jobs finish while the coordinator is down
  StartCoordinator();
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong)) << Run(run).dump(2);
  for (const auto& job : Run(run)["jobs"]) {
    int successes = 0;
    for (const auto& a : job["attempts"]) successes += a["outcome"] == "succeeded" ? 1 : 0;
    EXPECT_EQ(successes, 1) << job.dump(2);
    EXPECT_EQ(job["state"], "succeeded");
  }
}

TEST_F(FarmTest, PartitionedWorkersLateCompletionIsRejected) {
  // The variant that needs no privileges: a stopped process (SIGSTOP) looks exactly like a
  // partition from the coordinator's side, and when it resumes its messages arrive late, as after
  // a healed partition. The real partition (network namespaces) is the test below.
  StartCoordinator();
  StartWorker("alpha");
  const fs::path gate = dir_ / "gate";
  const std::string run = Submit("name: partition\nsteps:\n" + GatedStep("long", gate));
  ASSERT_TRUE(WaitFor([&] { return !RunningOn(run, "long").empty(); }, kLong));
  Kill("alpha", SIGSTOP);
  StartWorker("beta");
  // alpha is declared lost, the job is re-queued and runs on beta.
  ASSERT_TRUE(WaitFor(
      [&] {
        json r = Run(run);
        return r.is_object() && r["jobs"][0]["attempts"].size() == 2u &&
               r["jobs"][0]["state"] == "running";
      },
      kLong))
      << Run(run).dump(2);
  testing::WriteFile(gate, "open");  // both copies of the job can now finish
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong));
  Kill("alpha", SIGCONT);  // the partition heals; alpha's completion arrives late
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadFile(dir_ / "alpha.log").find("refused result") != std::string::npos ||
               ReadFile(dir_ / "alpha.log").find("no longer owns") != std::string::npos;
      },
      kLong))
      << ReadFile(dir_ / "alpha.log");
  const json attempts = Run(run)["jobs"][0]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << attempts.dump(2);
  EXPECT_EQ(attempts[0]["outcome"], "infra_error");
  EXPECT_EQ(attempts[1]["outcome"], "succeeded");
  EXPECT_EQ(Run(run)["state"], "succeeded");
}

// A network namespace joined to this one by a veth pair: HOST_IP on this side, .2 inside. Taking
// the host end down cuts the link both ways (packets are dropped, nothing is reset), as a
// partition does; bringing it up heals it. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and `ip`.
class NetnsLink {
 public:
  NetnsLink() {
    const int id = static_cast<int>(::getpid());
    name_ = "efn" + std::to_string(id);
    host_dev_ = "efh" + std::to_string(id);
    const std::string net =
        "10.213." + std::to_string(id % 256) + "." + std::to_string(4 * ((id / 256) % 64));
    host_ip_ = net.substr(0, net.rfind('.') + 1) + std::to_string(4 * ((id / 256) % 64) + 1);
    ns_ip_ = net.substr(0, net.rfind('.') + 1) + std::to_string(4 * ((id / 256) % 64) + 2);
  }
  ~NetnsLink() {
    if (!created_) return;
    // Deleting the namespace deletes its veth end, and with it the pair.
    Ip("netns del " + name_);
    Ip("link del " + host_dev_);
  }

  // Creates the namespace and the link; the reason when it cannot ("" on success).
  std::string Create(const fs::path& log) {
    log_ = log;
    if (::geteuid() != 0) return "network namespaces need root";
    if (std::system("command -v ip >/dev/null 2>&1") != 0)
      return "the ip tool (iproute2) is missing";
    if (!Ip("netns add " + name_)) return "cannot create a network namespace: " + LastLine(log);
    created_ = true;
    const std::string peer = "efp" + name_.substr(3);
    const std::string in_ns = "netns exec " + name_ + " ip ";
    const bool ok = Ip("link add " + host_dev_ + " type veth peer name " + peer) &&
                    Ip("link set " + peer + " netns " + name_) &&
                    Ip("addr add " + host_ip_ + "/30 dev " + host_dev_) &&
                    Ip("link set " + host_dev_ + " up") &&
                    Ip(in_ns + "addr add " + ns_ip_ + "/30 dev " + peer) &&
                    Ip(in_ns + "link set " + peer + " up") && Ip(in_ns + "link set lo up");
    return ok ? "" : "cannot set up a veth pair: " + LastLine(log);
  }

  bool SetLink(bool up) { return Ip("link set " + host_dev_ + (up ? " up" : " down")); }

  // In a forked child, before it starts anything: move it into the namespace.
  void EnterInChild() const {
    const int fd = ::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(97);
    ::close(fd);
  }

  const std::string& host_ip() const { return host_ip_; }

 private:
  // What `ip` said last (the reason a step failed; the log itself goes with the temp dir).
  static std::string LastLine(const fs::path& log) {
    std::string text = ReadFile(log);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text.substr(text.rfind('\n') + 1);
  }

  bool Ip(const std::string& args) const {
    const std::string command = "ip " + args + " >>'" + log_.string() + "' 2>&1";
    return std::system(command.c_str()) == 0;
  }

  std::string name_, host_dev_, host_ip_, ns_ip_;
  fs::path log_ = "/dev/null";
  bool created_ = false;
};

TEST_F(FarmTest, WorkerPartitionedByNetnsLosesItsLeaseAndItsLateCompletionIsRejected) {
  NetnsLink link;
  const std::string reason = link.Create(dir_ / "ip.log");
  if (!reason.empty()) GTEST_SKIP() << "network namespace partition not possible: " << reason;
  zmq_listen_ = worker_endpoint_ =
      "tcp://" + link.host_ip() + ":" + std::to_string(FreeLoopbackPort());
  StartCoordinator();
  StartWorker("alpha", 1, {}, [&link] { link.EnterInChild(); });
  ASSERT_TRUE(WaitFor([&] { return WorkerNamed("alpha").is_object(); }, kLong));
  const std::string alpha = WorkerNamed("alpha")["id"];
  const fs::path gate = dir_ / "gate";
  const std::string run = Submit("name: netns-partition\nsteps:\n" + GatedStep("long", gate));
  ASSERT_TRUE(WaitFor([&] { return RunningOn(run, "long") == alpha; }, kLong));

  ASSERT_TRUE(link.SetLink(false));  // the partition
  StartWorker("beta");
  ASSERT_TRUE(WaitFor(
      [&] {
        json job = Job(run, "long");
        return job.is_object() && job["attempts"].size() == 2u && job["state"] == "running";
      },
      kLong))
      << Run(run).dump(2);
  EXPECT_EQ(WorkerNamed("alpha")["state"], "lost");
  testing::WriteFile(gate, "open");  // both copies finish; alpha's result cannot get through
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong)) << Run(run).dump(2);
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadFile(dir_ / "alpha.log").find("finished: OUTCOME_SUCCEEDED") !=
               std::string::npos;
      },
      kLong))
      << ReadFile(dir_ / "alpha.log");

  ASSERT_TRUE(link.SetLink(true));  // the partition heals; alpha's completion arrives late
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(dir_ / "alpha.log").find("refused result") != std::string::npos; },
      kLong))
      << ReadFile(dir_ / "alpha.log");
  const json job = Job(run, "long");
  const json attempts = job["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << attempts.dump(2);
  EXPECT_EQ(attempts[0]["worker"], alpha);
  EXPECT_EQ(attempts[0]["outcome"], "infra_error");
  EXPECT_NE(attempts[0]["reason"].get<std::string>().find("lost"), std::string::npos);
  EXPECT_NE(attempts[1]["worker"], alpha);
  EXPECT_EQ(attempts[1]["outcome"], "succeeded");
  EXPECT_EQ(job["state"], "succeeded");
}

}  // namespace
}  // namespace edgefarm::fault
