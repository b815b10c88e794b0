// Operator actions on a farm of real processes: `edgefarm cancel` of a job and of a run (the
// job's process group is stopped), `edgefarm drain` with a worker that exits once drained, a
// worker stopped with SIGTERM handing its job back, and the coordinator's scheduling flags
// (--unschedulable-deadline). The CLI verbs run in-process against the real HTTP API.
#include <sstream>

#include "edgefarm/cli/admin_commands.h"
#include "edgefarm/cli/client_commands.h"
#include "farm_fixture.h"

namespace edgefarm::fault {
namespace {

// A step whose shell writes its pid and that of a background child to files, then waits on the
// child: both are in the job's process group, so stopping the job must end both.
std::string SleeperStep(const std::string& name, const fs::path& dir) {
  const std::string pids = (dir / name).string();
  return "  - name: " + name + "\n    run: [sh, -c, \"sleep 1000 & echo $! > '" + pids +
         ".child'; echo $$ > '" + pids + ".pid'; wait\"]\n    timeout: 10m\n";
}

class OperatorTest : public FarmTest {
 protected:
  // Runs `edgefarm ARGS... --server URL --token-file F` in-process; returns the exit code.
  int Cli(std::vector<std::string> args, std::string* out = nullptr, std::string* err = nullptr) {
    testing::WriteFile(dir_ / "cli.token", AdminToken());
    args.insert(args.end(), {"--server", http_url_, "--token-file", (dir_ / "cli.token").string()});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream o, e;
    const bool admin = args[0] == "drain";
    const int code = admin
                         ? cli::RunAdminCommand(static_cast<int>(argv.size()), argv.data(), o, e)
                         : cli::RunClientCommand(static_cast<int>(argv.size()), argv.data(), o, e);
    if (out) *out = o.str();
    if (err) *err = e.str();
    return code;
  }

  // Waits until the step has written both pid files and returns {shell, child}.
  std::pair<pid_t, pid_t> PidsOf(const std::string& name) {
    pid_t shell = 0, child = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          shell = ReadPid(dir_ / (name + ".pid"));
          child = ReadPid(dir_ / (name + ".child"));
          return shell > 0 && child > 0;
        },
        kLong));
    return {shell, child};
  }
};

TEST_F(OperatorTest, CancelJobStopsItsProcessGroupAndLeavesTheRestOfTheRun) {
  StartCoordinator();
  StartWorker("alpha", 2);
  const fs::path gate = dir_ / "gate";
  const std::string run = Submit("name: cancel-job\nsteps:\n" +
                                 SleeperStep("sleeper", dir_.path()) + GatedStep("other", gate));
  ASSERT_TRUE(WaitFor([&] { return !RunningOn(run, "sleeper").empty(); }, kLong));
  const auto [shell, child] = PidsOf("sleeper");
  const std::string job_id = Job(run, "sleeper")["id"];

  std::string out, err;
  ASSERT_EQ(Cli({"cancel", job_id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("cancelled job " + job_id), std::string::npos) << out;
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(shell) && ProcessGone(child); }, kLong));
  const json job = Job(run, "sleeper");
  EXPECT_EQ(job["state"], "cancelled");
  ASSERT_EQ(job["attempts"].size(), 1u) << job.dump(2);
  EXPECT_EQ(job["attempts"][0]["outcome"], "cancelled");
  EXPECT_EQ(job["attempts"][0]["reason"], "job cancelled");

  // The rest of the run is untouched and finishes.
  testing::WriteFile(gate, "open");
  ASSERT_TRUE(WaitFor([&] { return Job(run, "other")["state"] == "succeeded"; }, kLong));

  // Cancelling again: already finished (exit 1); the route itself answers 409. Unknown: exit 4.
  EXPECT_EQ(Cli({"cancel", job_id}, nullptr, &err), 1);
  EXPECT_NE(err.find("already finished (cancelled)"), std::string::npos) << err;
  auto again = client_->Post("/api/v1/jobs/" + job_id + "/cancel", "{}", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(Cli({"cancel", "run-does-not-exist-1"}, nullptr, &err), 4) << err;
  auto unknown = client_->Post("/api/v1/jobs/nope/cancel", "{}", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  // Audited like every mutating route.
  const json audit = Get("/api/v1/audit");
  std::vector<int>
      statuses;  // the CLI's POST, then the direct one (the second CLI call only looks)
  for (const auto& e : audit["entries"]) {
    if (e["path"] == "/api/v1/jobs/" + job_id + "/cancel") statuses.push_back(e["status"]);
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 409})) << audit.dump(2);
}

TEST_F(OperatorTest, CancelRunStopsEveryJob) {
  StartCoordinator();
  StartWorker("alpha", 2);
  const std::string run = Submit("name: cancel-run\nsteps:\n" + SleeperStep("one", dir_.path()) +
                                 SleeperStep("two", dir_.path()));
  ASSERT_TRUE(WaitFor(
      [&] { return !RunningOn(run, "one").empty() && !RunningOn(run, "two").empty(); }, kLong));
  const auto [one_shell, one_child] = PidsOf("one");
  const auto [two_shell, two_child] = PidsOf("two");
  std::string out, err;
  ASSERT_EQ(Cli({"cancel", run}, &out, &err), 0) << err;
  EXPECT_NE(out.find("cancelled run " + run + " (2 job(s)"), std::string::npos) << out;
  EXPECT_TRUE(RunIs(run, "cancelled"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return ProcessGone(one_shell) && ProcessGone(one_child) && ProcessGone(two_shell) &&
               ProcessGone(two_child);
      },
      kLong));
  for (const auto& job : Run(run)["jobs"]) {
    ASSERT_EQ(job["attempts"].size(), 1u) << job.dump(2);
    EXPECT_EQ(job["attempts"][0]["outcome"], "cancelled");
  }
  EXPECT_EQ(Cli({"cancel", run}, nullptr, &err), 1);
}

TEST_F(OperatorTest, DrainedWorkerFinishesItsJobTakesNoMoreAndExits) {
  StartCoordinator();
  StartWorker("alpha", 2, {"--exit-when-drained"});
  const fs::path gate = dir_ / "gate";
  const std::string first = Submit("name: before-drain\nsteps:\n" + GatedStep("long", gate));
  ASSERT_TRUE(WaitFor([&] { return !RunningOn(first, "long").empty(); }, kLong));

  std::string out, err;
  ASSERT_EQ(Cli({"drain", "alpha"}, &out, &err), 0) << err;  // by name
  EXPECT_NE(out.find("draining"), std::string::npos) << out;
  EXPECT_EQ(WorkerNamed("alpha")["state"], "draining");
  // Submitted after the drain: alpha has a free slot but must not get it.
  const std::string second = Submit("name: after-drain\nsteps:\n" + GatedStep("later", gate));

  testing::WriteFile(gate, "open");
  ASSERT_TRUE(WaitFor([&] { return RunIs(first, "succeeded"); }, kLong));
  EXPECT_EQ(WaitExit("alpha"), 0);  // drained: its job finished and its result was acknowledged
  EXPECT_TRUE(Job(second, "later")["attempts"].empty()) << Run(second).dump(2);

  StartWorker("beta");
  ASSERT_TRUE(WaitFor([&] { return RunIs(second, "succeeded"); }, kLong));
  EXPECT_EQ(Job(second, "later")["attempts"][0]["worker"], WorkerNamed("beta")["id"]);
  EXPECT_EQ(Cli({"drain", "no-such-worker"}, nullptr, &err), 4) << err;
}

TEST_F(OperatorTest, SigtermedWorkerHandsItsJobBackAndExitsCleanly) {
  StartCoordinator();
  StartWorker("alpha");
  const std::string run = Submit("name: sigterm\nsteps:\n" + SleeperStep("sleeper", dir_.path()));
  ASSERT_TRUE(WaitFor([&] { return !RunningOn(run, "sleeper").empty(); }, kLong));
  const auto [shell, child] = PidsOf("sleeper");
  fs::remove(dir_ / "sleeper.pid");
  fs::remove(dir_ / "sleeper.child");

  Kill("alpha", SIGTERM);
  EXPECT_EQ(WaitExit("alpha"), 0);
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(shell) && ProcessGone(child); }, kLong));
  json job = Job(run, "sleeper");
  ASSERT_GE(job["attempts"].size(), 1u) << job.dump(2);
  EXPECT_EQ(job["attempts"][0]["outcome"], "infra_error");
  EXPECT_EQ(job["attempts"][0]["reason"], "worker stopped while the job was running");
  EXPECT_NE(ReadFile(dir_ / "alpha.log").find("signal 15 received"), std::string::npos);

  // Handed back, not failed: it runs again on the next worker.
  StartWorker("beta");
  ASSERT_TRUE(WaitFor([&] { return !RunningOn(run, "sleeper").empty(); }, kLong));
  EXPECT_EQ(RunningOn(run, "sleeper"), WorkerNamed("beta")["id"]);
  PidsOf("sleeper");  // really started again
}

TEST_F(OperatorTest, UnschedulableDeadlineFlagFailsAJobNoWorkerCanRun) {
  StartCoordinator({"--unschedulable-deadline", "1s"});
  StartWorker("alpha");
  ASSERT_TRUE(WaitFor([&] { return WorkerNamed("alpha").is_object(); }, kLong));
  const std::string run = Submit(
      "name: unschedulable\nsteps:\n  - name: exotic\n    run: [\"true\"]\n"
      "    requires: {arch: vax}\n");
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "failed"); }, kLong)) << Run(run).dump(2);
  const json job = Job(run, "exotic");
  EXPECT_EQ(job["state"], "failed");
  EXPECT_TRUE(job["attempts"].empty());
  // The job JSON carries the missing tags; the failure reason ("unschedulable for 1 s: ...") is
  // in the coordinator's event table, which the API does not show.
  EXPECT_NE(job["missing_tags"].dump().find("arch"), std::string::npos) << job.dump(2);
}

TEST(CoordinatorFlagsTest, SchedulingDurationsAreValidatedBeforeAnythingStarts) {
  TempDir dir;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"coordinator", "--data", (dir / "data").string()});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return coordinator::RunCoordinatorCommand(static_cast<int>(argv.size()), argv.data());
  };
  EXPECT_EQ(run({"--unschedulable-deadline", "soon"}), 2);
  EXPECT_EQ(run({"--unschedulable-deadline", "10"}), 2);  // a unit is required
  EXPECT_EQ(run({"--unschedulable-deadline", "8d"}), 2);
  EXPECT_EQ(run({"--lease-ttl", "0"}), 2);
  EXPECT_EQ(run({"--heartbeat", "-1s"}), 2);
  EXPECT_EQ(run({"--missed-heartbeats", "0"}), 2);
  EXPECT_EQ(run({"--accept-window", "999999999h"}), 2);
  EXPECT_FALSE(fs::exists(dir / "data"));  // nothing started
}

}  // namespace
}  // namespace edgefarm::fault
