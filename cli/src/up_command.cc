// The embedded farm. Order matters: the coordinator must have bound its sockets (endpoints.json)
// and written its tokens before workers can register, and the workers must have registered
// before submission, or the `native` cells would be reported unschedulable.
//
// SIGINT/SIGTERM are blocked and taken with sigtimedwait, which doubles as the polling pause:
// Ctrl-C while watching stops the farm cleanly (workers first, then the coordinator).
#include "edgefarm/cli/up_command.h"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/cli/child_process.h"
#include "edgefarm/cli/client_commands.h"
#include "edgefarm/cli/matrix_table.h"
#include "edgefarm/cli/promotion_commands.h"
#include "edgefarm/cli/status_printer.h"
#include "edgefarm/coordinator/pareto_report.h"
#include "edgefarm/worker/hardware_detector.h"

#ifndef EDGEFARM_SOURCE_DIR
#define EDGEFARM_SOURCE_DIR "."
#endif

namespace edgefarm::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "usage: edgefarm up [--workers N] [--slots N] [--pipeline FILE] [--once] [--data DIR]\n";

// The farm's processes; stopped in reverse start order on destruction.
struct Farm {
  std::unique_ptr<ChildProcess> coordinator;
  std::vector<std::unique_ptr<ChildProcess>> workers;
  fs::path data;

  void Stop() {
    for (auto& w : workers) w->Stop(std::chrono::seconds(15));
    if (coordinator) coordinator->Stop(std::chrono::seconds(15));
  }
  ~Farm() { Stop(); }
};

class SignalPause {
 public:
  SignalPause() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  // Waits up to `d`; false when a stop signal arrived (now or earlier).
  bool operator()(std::chrono::milliseconds d) {
    if (interrupted_) return false;
    timespec ts{static_cast<time_t>(d.count() / 1000),
                static_cast<long>(d.count() % 1000) * 1000000};
    if (sigtimedwait(&set_, nullptr, &ts) > 0) interrupted_ = true;
    return !interrupted_;
  }
  void WaitForever() {
    int sig = 0;
    if (!interrupted_) sigwait(&set_, &sig);
    interrupted_ = true;
  }
  bool interrupted() const { return interrupted_; }

 private:
  sigset_t set_;
  bool interrupted_ = false;
};

std::string ReadTrimmed(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string LogTail(const fs::path& log) {
  std::string text = ReadTrimmed(log);
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  return text;
}

Status StartCoordinator(Farm& farm, const std::string& native_target, SignalPause& pause) {
  std::error_code ec;
  fs::remove(farm.data / "endpoints.json", ec);  // a stale file from an earlier farm
  std::vector<std::string> argv = {
      SelfExecutable().string(), "coordinator", "--data",     farm.data.string(), "--listen",
      "tcp://127.0.0.1:0",       "--http",      "127.0.0.1:0"};
  if (!native_target.empty()) {
    argv.push_back("--native-target");
    argv.push_back(native_target);
  }
  const fs::path log = farm.data / "logs" / "coordinator.log";
  EF_ASSIGN_OR_RETURN(farm.coordinator, StartChild(argv, log));
  for (int i = 0; i < 600; ++i) {  // up to a minute
    if (fs::exists(farm.data / "endpoints.json") && fs::exists(farm.data / "worker.token")) {
      return Status::Ok();
    }
    if (auto code = farm.coordinator->Poll()) {
      return Unavailable("the coordinator exited with status " + std::to_string(*code) + ":\n" +
                         LogTail(log));
    }
    if (!pause(std::chrono::milliseconds(100))) return Cancelled("interrupted");
  }
  return DeadlineExceeded("the coordinator did not write endpoints.json; see " + log.string());
}

Status StartWorkers(Farm& farm, const UpFlags& flags, const std::string& zmq) {
  for (int i = 1; i <= flags.workers; ++i) {
    const std::string name = "worker-" + std::to_string(i);
    std::vector<std::string> argv = {SelfExecutable().string(),
                                     "worker",
                                     "--coordinator",
                                     zmq,
                                     "--name",
                                     name,
                                     "--slots",
                                     std::to_string(flags.slots),
                                     "--cache",
                                     (farm.data / "workers" / name).string(),
                                     "--token-file",
                                     (farm.data / "worker.token").string()};
    EF_ASSIGN_OR_RETURN(auto child, StartChild(argv, farm.data / "logs" / (name + ".log")));
    farm.workers.push_back(std::move(child));
  }
  return Status::Ok();
}

Status WaitForWorkers(ApiClient& client, Farm& farm, int want, SignalPause& pause) {
  for (int i = 0; i < 600; ++i) {
    auto reply = client.Get("/api/v1/workers");
    if (reply.ok()) {
      int live = 0;
      for (const auto& w : reply->value("workers", nlohmann::json::array())) {
        live += w.value("state", "") == "live" ? 1 : 0;
      }
      if (live >= want) return Status::Ok();
    }
    for (size_t w = 0; w < farm.workers.size(); ++w) {
      if (auto code = farm.workers[w]->Poll()) {
        const fs::path log = farm.data / "logs" / ("worker-" + std::to_string(w + 1) + ".log");
        return Unavailable("worker-" + std::to_string(w + 1) + " exited with status " +
                           std::to_string(*code) + ":\n" + LogTail(log));
      }
    }
    if (!pause(std::chrono::milliseconds(100))) return Cancelled("interrupted");
  }
  return DeadlineExceeded("workers did not register within a minute");
}

Result<std::string> ReadEndpoint(const fs::path& data, const char* key) {
  const auto json = nlohmann::json::parse(ReadTrimmed(data / "endpoints.json"), nullptr, false);
  if (json.is_discarded() || !json.contains(key) || !json[key].is_string()) {
    return DataLoss((data / "endpoints.json").string() + " lacks \"" + key + "\"");
  }
  return json[key].get<std::string>();
}

int Report(std::ostream& err, const Status& status) {
  err << "edgefarm up: " << status.message() << "\n";
  return status.code() == StatusCode::kCancelled ? 130 : 1;
}

struct RunOutcome {
  std::string run_id;
  std::string state;
  nlohmann::json promotion;  // GET /runs/{id}/promotion after staging; null when unavailable
};

// Everything after the farm is up: submit, watch, print the table, wait for staging and print
// the verdicts, the Pareto choice and the staging measurements the coordinator stored.
Result<RunOutcome> RunPipeline(ApiClient& client, const UpFlags& flags, StatusPrinter& printer,
                               SignalPause& pause) {
  EF_ASSIGN_OR_RETURN(std::string run_id, SubmitPipeline(client, flags.pipeline, &printer));
  printer.Message("run " + run_id + " submitted (" + flags.pipeline.string() + ")");
  EF_ASSIGN_OR_RETURN(nlohmann::json run,
                      WatchRun(client, run_id, printer, [&](auto d) { return pause(d); }));
  auto pipeline = LoadPipelineFile(flags.pipeline);
  const pipelines::GatesSpec* gates = pipeline.ok() ? &pipeline->gates : nullptr;
  std::string table = FormatMatrixTable(BuildMatrixRows(run, gates, FetchWorkerNames(client)));
  printer.Block(table.insert(0, 1, '\n'));
  if (!gates) printer.Message("(gate verdicts unavailable: " + pipeline.status().message() + ")");
  const std::string state = run.value("state", "");
  printer.Message("run " + run_id + " " + state);
  RunOutcome outcome{run_id, state, nullptr};
  auto promotion = WaitForStaging(client, run_id, [&](auto d) { return pause(d); });
  if (promotion.ok()) {
    printer.Block("\n" + FormatPromotionReport(*promotion));
    outcome.promotion = std::move(promotion).value();
  } else if (promotion.status().code() == StatusCode::kCancelled) {
    return promotion.status();
  } else if (pipeline.ok()) {
    // The coordinator's view is unavailable: compute the choice here from the run's records.
    printer.Message("(stored promotion unavailable: " + promotion.status().message() + ")");
    auto jobs = coordinator::EngineJobsFromRunJson(run);
    std::vector<const coordinator::JobRecord*> ptrs;
    for (const auto& job : jobs) ptrs.push_back(&job);
    printer.Block(coordinator::FormatChoiceReport(coordinator::Recommend(
        coordinator::JudgeCells(pipeline->gates, ptrs), pipeline->recipes.olive.weights)));
  }
  return outcome;
}

// Without --once: a release-manager token (not the submitter's), the exact approve command, then
// the promotion's phases and ramp steps as they happen. Returns whether every promotion succeeded.
Result<bool> AwaitApprovalAndFollow(ApiClient& client, const Farm& farm, const RunOutcome& run,
                                    StatusPrinter& printer, SignalPause& pause) {
  EF_ASSIGN_OR_RETURN(fs::path token, EnsureReleaseManagerToken(client, farm.data));
  printer.Message("release-manager token (not the submitter's): " + token.string() +
                  " (mode 0600)");
  printer.Message("awaiting approval; in another terminal run:\n  " + SelfExecutable().string() +
                  " approve " + run.run_id + " --data " + farm.data.string() + " --token-file " +
                  token.string() + " --comment \"looks good\"");
  EF_ASSIGN_OR_RETURN(
      nlohmann::json final_state,
      FollowPromotions(client, run.run_id, printer, [&](auto d) { return pause(d); }));
  bool all_succeeded = true;
  const nlohmann::json targets = final_state.value("targets", nlohmann::json::object());
  for (const auto& [target, entry] : targets.items()) {
    if (!entry.contains("promotion") || !entry["promotion"].is_object()) continue;
    const std::string environment = entry["promotion"].value("environment", "");
    all_succeeded = all_succeeded && entry["promotion"].value("phase", "") == "succeeded";
    auto history = client.Get("/api/v1/environments/" + environment + "/history");
    if (history.ok()) printer.Block("\nLedger of " + environment + ":\n" + FormatHistory(*history));
  }
  return all_succeeded;
}

}  // namespace

fs::path DefaultPipeline() {
  const fs::path relative = fs::path("examples") / "stories" / ".edgefarm.yml";
  if (fs::exists(relative)) return relative;
  return fs::path(EDGEFARM_SOURCE_DIR) / relative;
}

Result<UpFlags> ParseUpFlags(int argc, char** argv) {
  UpFlags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--once") {
      flags.once = true;
      continue;
    }
    if (i + 1 >= argc) return InvalidArgument("unknown or incomplete argument '" + arg + "'");
    const std::string value = argv[++i];
    if (arg == "--pipeline") {
      flags.pipeline = value;
    } else if (arg == "--data") {
      flags.data_dir = value;
    } else if (arg == "--workers" || arg == "--slots") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || n < 1 || n > 64) {
        return InvalidArgument(arg + " must be a number from 1 to 64");
      }
      (arg == "--workers" ? flags.workers : flags.slots) = static_cast<int>(n);
    } else {
      return InvalidArgument("unknown argument '" + arg + "'");
    }
  }
  if (flags.pipeline.empty()) flags.pipeline = DefaultPipeline();
  return flags;
}

int RunUpCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  auto flags = ParseUpFlags(argc, argv);
  if (!flags.ok()) {
    err << "edgefarm up: " << flags.status().message() << "\n" << kUsage;
    return 2;
  }
  if (auto pipeline = LoadPipelineFile(flags->pipeline); !pipeline.ok()) {
    err << "edgefarm up: " << pipeline.status().message() << "\n";
    return 2;
  }
  SignalPause pause;
  ConsoleStatusPrinter printer(out);
  Farm farm;
  std::error_code ec;
  fs::create_directories(flags->data_dir, ec);
  farm.data = fs::absolute(flags->data_dir);
  const std::string native = worker::NativeTarget(worker::DetectHardware());
  printer.Message("native target: " + (native.empty() ? std::string("(unknown)") : native));
  if (Status s = StartCoordinator(farm, native, pause); !s.ok()) return Report(err, s);
  auto zmq = ReadEndpoint(farm.data, "zmq");
  auto http = ReadEndpoint(farm.data, "http");
  if (!zmq.ok() || !http.ok()) return Report(err, zmq.ok() ? http.status() : zmq.status());
  printer.Message("coordinator: " + *zmq + ", HTTP API " + *http + "  (data " + farm.data.string() +
                  ")");
  if (Status s = StartWorkers(farm, *flags, *zmq); !s.ok()) return Report(err, s);
  ApiClient client(ServerConfig{*http, ReadTrimmed(farm.data / "admin.token")});
  if (Status s = WaitForWorkers(client, farm, flags->workers, pause); !s.ok()) {
    return Report(err, s);
  }
  printer.Message(std::to_string(flags->workers) + " worker(s) registered");
  auto run = RunPipeline(client, *flags, printer, pause);
  if (!run.ok()) return Report(err, run.status());
  bool promoted = true;
  if (AwaitsApproval(run->promotion)) {
    if (flags->once) {
      printer.Message(
          "awaiting approval (up --once stops here; without --once, up waits for "
          "`edgefarm approve " +
          run->run_id + "` and follows the ramp)");
    } else {
      auto followed = AwaitApprovalAndFollow(client, farm, *run, printer, pause);
      if (!followed.ok()) return Report(err, followed.status());
      promoted = *followed;
    }
  } else if (!flags->once) {
    printer.Message("farm still running; press Ctrl-C to stop it");
    pause.WaitForever();
  }
  printer.Message("stopping the farm");
  farm.Stop();
  return run->state == "succeeded" && promoted ? 0 : 1;
}

}  // namespace edgefarm::cli
