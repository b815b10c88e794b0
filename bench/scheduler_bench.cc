// edgefarm-bench-scheduler: throughput, dispatch latency, memory and restart time of the real
// coordinator (sqlite with WAL + synchronous=FULL, the ZeroMQ ROUTER, the scheduler) against W
// worker peers that are real ZeroMQ DEALERs over TCP loopback and run no-op jobs.
//
//   edgefarm-bench-scheduler [--jobs N] [--workers W] [--slots S] [--peer-threads T]
//                            [--rate R] [--latency-seconds D] [--restart-rows M] [--json]
//                            [--serial-commit]
//
// Design: the process forks first, while still single-threaded. The child hosts every worker
// peer (T threads, each polling W/T DEALER sockets); the parent runs the coordinator and submits
// runs through Coordinator::StageRun (the loop's group commit carries them, as for the HTTP API).
// So the coordinator's peak RSS (getrusage of the parent) does not include the peers. The two talk
// over pipes: the parent sends the endpoint, the worker token and phase commands; the child reports
// its counters.
//
// Phases: (1) throughput: N jobs submitted at once (runs of 1000 jobs); dispatched/s is N over the
// time to the last Assign, completed/s N over the time to the last ResultAck. (2) latency: runs
// of R/1000 jobs every millisecond for D seconds; each job carries its submit time (steady clock,
// shared by both processes) in its env, and the peer records Assign receipt minus submit.
// (3) restart: a fresh store is filled with M finished job rows (1000 per run) plus one queued
// job; a coordinator is started on it and a peer registers; the figure is the time from the start
// of Coordinator::Start() to the Assign arriving.
#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "edgefarm/common/clock.h"
#include "edgefarm/coordinator/coordinator.h"
#include "edgefarm/coordinator/sqlite_store.h"
#include "edgefarm/proto/frame_codec.h"
#include "scheduler_peers.h"

namespace {

using edgefarm::coordinator::Coordinator;
using edgefarm::coordinator::CoordinatorOptions;
using edgefarm::coordinator::JobRecord;
using edgefarm::coordinator::PlannedRun;
namespace v1 = edgefarm::v1;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using edgefarm::bench::NowNs;
using edgefarm::bench::ReadLine;
using edgefarm::bench::RegisterPeer;
using edgefarm::bench::WriteLine;

struct Flags {
  int64_t jobs = 100000;
  int workers = 200;
  int slots = 4;
  int peer_threads = 2;
  int64_t rate = 10000;
  double latency_seconds = 3;
  int64_t restart_rows = 1000000;
  bool json = false;
  bool serial_commit = false;  // the loop commits itself (no writer thread), for comparison
};

bool ParseFlags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--json") {
      f.json = true;
    } else if (a == "--serial-commit") {
      f.serial_commit = true;
    } else if ((a == "--jobs" || a == "--workers" || a == "--slots" || a == "--peer-threads" ||
                a == "--rate" || a == "--latency-seconds" || a == "--restart-rows") &&
               (v = next()) != nullptr) {
      if (a == "--jobs") f.jobs = std::atoll(v);
      if (a == "--workers") f.workers = std::atoi(v);
      if (a == "--slots") f.slots = std::atoi(v);
      if (a == "--peer-threads") f.peer_threads = std::atoi(v);
      if (a == "--rate") f.rate = std::atoll(v);
      if (a == "--latency-seconds") f.latency_seconds = std::atof(v);
      if (a == "--restart-rows") f.restart_rows = std::atoll(v);
    } else {
      std::cerr << "usage: edgefarm-bench-scheduler [--jobs N] [--workers W] [--slots S] "
                   "[--peer-threads T] [--rate R] [--latency-seconds D] [--restart-rows M] "
                   "[--json] [--serial-commit]\n";
      return false;
    }
  }
  return f.jobs > 0 && f.workers > 0 && f.slots > 0 && f.peer_threads > 0;
}

// ---- The coordinator side (parent process) ----

struct Report {
  int64_t welcomed = 0, assigns = 0, acks = 0, first_assign_ns = 0, last_assign_ns = 0,
          last_ack_ns = 0, p50_ns = 0, p99_ns = 0, samples = 0;
};

Report Ask(int cmd_fd, int report_fd) {
  WriteLine(cmd_fd, "report");
  std::istringstream in(ReadLine(report_fd));
  Report r;
  in >> r.welcomed >> r.assigns >> r.acks >> r.first_assign_ns >> r.last_assign_ns >>
      r.last_ack_ns >> r.p50_ns >> r.p99_ns >> r.samples;
  return r;
}

PlannedRun NoopRun(int64_t jobs, bool stamp) {
  PlannedRun run;
  run.name = "bench";
  run.pipeline_file = ".edgefarm.yml";
  const std::string stamp_ns = std::to_string(NowNs());
  for (int64_t i = 0; i < jobs; ++i) {
    JobRecord job;
    job.name = std::to_string(i).insert(0, 1, 'j');  // not "j" + ...: GCC 12 -Wrestrict
    job.is_engine = false;
    job.argv = {"true"};
    if (stamp) job.env["SUBMITTED_NS"] = stamp_ns;
    job.timeout_seconds = 600;
    run.jobs.push_back(std::move(job));
  }
  return run;
}

// Stages the run for the coordinator loop's next group commit and wakes the loop, as the HTTP
// API does, without waiting for the commit: the bench stands for many concurrent clients, each
// of which would wait for its own. Its Assigns still leave only after that commit.
bool Submit(Coordinator& c, int64_t jobs, bool stamp) {
  auto id = c.StageRun(NoopRun(jobs, stamp));
  if (!id.ok()) std::cerr << "submit failed: " << id.status().ToString() << "\n";
  return id.ok();
}

// Polls the peers until pred(report) holds; false after `bound`.
template <typename Pred>
bool AwaitPeers(int cmd_fd, int report_fd, Pred pred, std::chrono::seconds bound, Report* out) {
  const auto deadline = Steady::now() + bound;
  while (Steady::now() < deadline) {
    *out = Ask(cmd_fd, report_fd);
    if (pred(*out)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a bench, not a test
  }
  return false;
}

int64_t PeakRssBytes() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return int64_t{ru.ru_maxrss} * 1024;
}

struct Figures {
  double dispatched_per_s = 0, completed_per_s = 0;
  double latency_rate = 0, p50_ms = 0, p99_ms = 0;
  int64_t latency_samples = 0, peak_rss = 0;
  double restart_ms = -1, fill_s = 0;
  bool complete = true;
};

CoordinatorOptions Options(const fs::path& dir, bool serial_commit) {
  CoordinatorOptions o;
  o.data_dir = dir;
  o.serial_commit = serial_commit;
  o.poll_interval = std::chrono::milliseconds(5);
  o.scheduler.heartbeat_interval = std::chrono::milliseconds(2000);
  o.scheduler.lease_ttl = std::chrono::milliseconds(20000);
  // The throughput phase queues --jobs at once on purpose: no admission limit here.
  o.scheduler.max_queued_per_repo = 0;
  return o;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

void ThroughputPhase(Coordinator& c, const Flags& f, int cmd, int rep, Figures& fig) {
  WriteLine(cmd, "reset");
  const int64_t start = NowNs();
  for (int64_t left = f.jobs; left > 0; left -= 1000) {
    if (!Submit(c, std::min<int64_t>(1000, left), false)) break;
  }
  Report r;
  fig.complete = AwaitPeers(
      cmd, rep, [&](const Report& x) { return x.acks >= f.jobs; }, std::chrono::seconds(600), &r);
  fig.dispatched_per_s = static_cast<double>(r.assigns) * 1e9 / double(r.last_assign_ns - start);
  fig.completed_per_s = static_cast<double>(r.acks) * 1e9 / double(r.last_ack_ns - start);
}

void LatencyPhase(Coordinator& c, const Flags& f, int cmd, int rep, Figures& fig) {
  WriteLine(cmd, "reset");
  WriteLine(cmd, "latency on");
  const int64_t per_ms = std::max<int64_t>(1, f.rate / 1000);
  const auto start = Steady::now();
  const auto end = start + std::chrono::milliseconds(int64_t(f.latency_seconds * 1000));
  int64_t submitted = 0;
  for (auto next = start; next < end; next += std::chrono::milliseconds(1)) {
    std::this_thread::sleep_until(next);
    if (Submit(c, per_ms, true)) submitted += per_ms;
  }
  const double secs = std::chrono::duration<double>(Steady::now() - start).count();
  Report r;
  AwaitPeers(
      cmd, rep, [&](const Report& x) { return x.acks >= submitted; }, std::chrono::seconds(120),
      &r);
  WriteLine(cmd, "latency off");
  fig.latency_rate = static_cast<double>(submitted) / secs;
  fig.p50_ms = static_cast<double>(r.p50_ns) / 1e6;
  fig.p99_ms = static_cast<double>(r.p99_ns) / 1e6;
  fig.latency_samples = r.samples;
}

// Writes `rows` finished job rows (1000 per run, each with its attempt) and one queued job.
bool FillStore(const fs::path& dir, int64_t rows) {
  using namespace edgefarm::coordinator;
  fs::create_directories(dir);
  auto store = SqliteStore::Open(dir / "coordinator.db");
  if (!store.ok()) return false;
  const int64_t kPerCommit = 50000;
  for (int64_t done = 0; done < rows;) {
    ChangeSet c;
    for (int64_t i = 0; i < kPerCommit && done < rows; ++i, ++done) {
      const std::string run_id = "run-old" + std::to_string(done / 1000);
      if (done % 1000 == 0) {
        RunRecord run;
        run.id = run_id;
        run.name = "old";
        run.state = RunState::kSucceeded;
        run.pipeline_file = ".edgefarm.yml";
        c.runs.push_back(run);
      }
      JobRecord job;
      job.id = run_id + "-" + std::to_string(done % 1000);
      job.run_id = run_id;
      job.seq = static_cast<int>(done % 1000);
      job.name = "j" + std::to_string(job.seq);
      job.is_engine = false;
      job.argv = {"true"};
      job.state = JobState::kSucceeded;
      job.attempt = 1;
      job.worker_id = "bench-w0";
      AttemptRecord attempt;
      attempt.job_id = job.id;
      attempt.attempt = 1;
      attempt.worker_id = "bench-w0";
      attempt.state = AttemptState::kFinished;
      attempt.outcome = "succeeded";
      c.jobs.push_back(std::move(job));
      c.attempts.push_back(std::move(attempt));
    }
    if (!(*store)->Commit(c).ok()) return false;
  }
  ChangeSet last;
  RunRecord run;
  run.id = "run-new";
  run.name = "new";
  run.pipeline_file = ".edgefarm.yml";
  run.created_at_ms = 1;
  last.runs.push_back(run);
  JobRecord job;
  job.id = "run-new-0";
  job.run_id = run.id;
  job.name = "first";
  job.is_engine = false;
  job.argv = {"true"};
  job.state = JobState::kQueued;
  last.jobs.push_back(job);
  return (*store)->Commit(last).ok();
}

// Time from Coordinator::Start() on a store of `rows` job rows to a registering peer's Assign.
double RestartToFirstDispatchMs(const fs::path& dir, bool serial_commit,
                                std::shared_ptr<spdlog::logger> logger) {
  edgefarm::SystemClock clock;
  Coordinator c(Options(dir, serial_commit), &clock, logger);
  const auto start = Steady::now();
  if (!c.Start().ok()) return -1;
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::routing_id, "bench-restart");
  s.set(zmq::sockopt::linger, 0);
  s.connect(c.zmq_endpoint());
  RegisterPeer(s, "bench-restart", ReadFile(dir / "worker.token"), 1);
  const auto deadline = Steady::now() + std::chrono::seconds(60);
  while (Steady::now() < deadline) {
    zmq::message_t msg;
    std::vector<zmq::pollitem_t> items = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, std::chrono::milliseconds(50));
    if (!s.recv(msg, zmq::recv_flags::dontwait)) continue;
    auto env = edgefarm::proto::DecodeFrame(std::string_view(msg.data<char>(), msg.size()));
    if (env.ok() && env->has_assign()) {
      return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
    }
  }
  return -1;
}

void Print(const Flags& f, const Figures& g) {
  if (f.json) {
    std::printf(
        "{\"jobs\":%lld,\"workers\":%d,\"slots\":%d,\"complete\":%s,"
        "\"dispatched_per_s\":%.0f,\"completed_per_s\":%.0f,\"latency_rate_per_s\":%.0f,"
        "\"dispatch_latency_p50_ms\":%.3f,\"dispatch_latency_p99_ms\":%.3f,"
        "\"latency_samples\":%lld,\"coordinator_peak_rss_bytes\":%lld,\"restart_rows\":%lld,"
        "\"restart_to_first_dispatch_ms\":%.1f}\n",
        static_cast<long long>(f.jobs), f.workers, f.slots, g.complete ? "true" : "false",
        g.dispatched_per_s, g.completed_per_s, g.latency_rate, g.p50_ms, g.p99_ms,
        static_cast<long long>(g.latency_samples), static_cast<long long>(g.peak_rss),
        static_cast<long long>(f.restart_rows), g.restart_ms);
    return;
  }
  std::printf("jobs %lld, workers %d x %d slots%s\n", static_cast<long long>(f.jobs), f.workers,
              f.slots, g.complete ? "" : " (INCOMPLETE: not every job finished)");
  std::printf("dispatched        %10.0f jobs/s\n", g.dispatched_per_s);
  std::printf("completed         %10.0f jobs/s\n", g.completed_per_s);
  std::printf("dispatch latency  p50 %.3f ms, p99 %.3f ms at %.0f jobs/s offered (%lld samples)\n",
              g.p50_ms, g.p99_ms, g.latency_rate, static_cast<long long>(g.latency_samples));
  std::printf("coordinator peak RSS %.1f MiB\n", static_cast<double>(g.peak_rss) / 1048576.0);
  if (f.restart_rows > 0) {
    std::printf("restart to first dispatch %.1f ms on %lld job rows\n", g.restart_ms,
                static_cast<long long>(f.restart_rows));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, f)) return 2;
  int to_child[2], to_parent[2];
  if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) return 1;
  const pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    ::close(to_child[1]);
    ::close(to_parent[0]);
    std::_Exit(
        edgefarm::bench::RunPeers(to_child[0], to_parent[1], {f.workers, f.slots, f.peer_threads}));
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  const int cmd = to_child[1], rep = to_parent[0];
  char tmpl[] = "/tmp/edgefarm-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const fs::path dir(tmpl);
  auto logger =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  Figures fig;
  {
    edgefarm::SystemClock clock;
    Coordinator c(Options(dir / "farm", f.serial_commit), &clock, logger);
    if (auto s = c.Start(); !s.ok()) {
      std::cerr << "coordinator: " << s.ToString() << "\n";
      return 1;
    }
    WriteLine(cmd, c.zmq_endpoint() + " " + ReadFile(dir / "farm" / "worker.token"));
    Report r;
    if (!AwaitPeers(
            cmd, rep, [&](const Report& x) { return x.welcomed >= f.workers; },
            std::chrono::seconds(60), &r)) {
      std::cerr << "only " << r.welcomed << " of " << f.workers << " peers were welcomed\n";
    }
    ThroughputPhase(c, f, cmd, rep, fig);
    if (f.latency_seconds > 0) LatencyPhase(c, f, cmd, rep, fig);
    fig.peak_rss = PeakRssBytes();
    WriteLine(cmd, "quit");
    c.Stop();
  }
  ::waitpid(child, nullptr, 0);
  if (f.restart_rows > 0 && FillStore(dir / "restart", f.restart_rows)) {
    fig.restart_ms = RestartToFirstDispatchMs(dir / "restart", f.serial_commit, logger);
  }
  Print(f, fig);
  std::error_code ec;
  fs::remove_all(dir, ec);
  const bool restarted = f.restart_rows == 0 || fig.restart_ms >= 0;
  return fig.complete && restarted ? 0 : 1;
}
