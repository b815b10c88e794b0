// Client verbs. Each verb parses its flags, resolves the server, makes its requests and renders
// either the API's JSON verbatim (--json, the stable machine interface) or a table for people.
#include "edgefarm/cli/client_commands.h"

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "edgefarm/cli/matrix_table.h"
#include "edgefarm/cli/promotion_commands.h"
#include "edgefarm/pipelines/expand.h"
#include "edgefarm/pipelines/pipeline_loader.h"

namespace edgefarm::cli {

namespace fs = std::filesystem;

namespace {

struct ParsedArgs {
  std::vector<std::string> positional;
  std::set<std::string> switches;
  ServerFlags server;
};

Result<ParsedArgs> ParseArgs(int argc, char** argv, const std::set<std::string>& switches) {
  ParsedArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (switches.count(arg)) {
      args.switches.insert(arg);
    } else if (arg == "--server" || arg == "--token-file" || arg == "--data") {
      if (i + 1 >= argc) return InvalidArgument(arg + " needs a value");
      const std::string value = argv[++i];
      if (arg == "--server") args.server.server = value;
      if (arg == "--token-file") args.server.token_file = value;
      if (arg == "--data") args.server.data_dir = value;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return InvalidArgument("unknown flag '" + arg + "'");
    } else {
      args.positional.push_back(arg);
    }
  }
  return args;
}

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

int Fail(std::ostream& err, const Status& status) {
  err << "edgefarm: " << status.message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace

std::map<std::string, std::string> FetchWorkerNames(ApiClient& client) {
  auto workers = client.Get("/api/v1/workers");
  return workers.ok() ? WorkerNames(*workers) : std::map<std::string, std::string>();
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return 2;
    case StatusCode::kUnavailable:
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return 3;
    case StatusCode::kNotFound:
      return 4;
    default:
      return 1;
  }
}

Result<pipelines::Pipeline> LoadPipelineFile(const fs::path& pipeline_file) {
  EF_ASSIGN_OR_RETURN(std::string yaml, ReadWholeFile(pipeline_file));
  auto pipeline = pipelines::LoadPipeline(yaml, pipeline_file.string());
  if (!pipeline.ok()) return InvalidArgument(pipeline.status().message());
  return pipeline;
}

Result<std::string> SubmitPipeline(ApiClient& client, const fs::path& pipeline_file,
                                   StatusPrinter* printer) {
  EF_ASSIGN_OR_RETURN(std::string yaml, ReadWholeFile(pipeline_file));
  EF_ASSIGN_OR_RETURN(pipelines::Pipeline pipeline, LoadPipelineFile(pipeline_file));
  const fs::path base = fs::absolute(pipeline_file).parent_path();
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& relative : pipelines::ReferencedFiles(pipeline)) {
    const fs::path local = base / relative;
    auto digest = client.PutBlob(local);
    if (!digest.ok()) {
      const Status& s = digest.status();
      if (s.code() == StatusCode::kNotFound || s.code() == StatusCode::kIoError) {
        return InvalidArgument(pipeline_file.string() + " references " + relative +
                               ", which cannot be read: " + s.message());
      }
      return s;
    }
    files[relative] = *digest;
    if (printer) printer->Message("uploaded " + relative + " (" + digest->substr(0, 12) + ")");
  }
  nlohmann::json body = {{"pipeline_file", pipeline_file.filename().string()},
                         {"pipeline_yaml", yaml},
                         {"files", files}};
  EF_ASSIGN_OR_RETURN(nlohmann::json reply, client.Post("/api/v1/runs", body));
  const std::string run_id = Str(reply, "run_id");
  if (run_id.empty()) return DataLoss("the server accepted the run but returned no run_id");
  return run_id;
}

namespace {

bool HasUnnamedWorker(const nlohmann::json& run, const std::map<std::string, std::string>& names) {
  for (const auto& job : run.value("jobs", nlohmann::json::array())) {
    const std::string worker = Str(job, "worker");
    if (!worker.empty() && !names.count(worker)) return true;
  }
  return false;
}

}  // namespace

Result<nlohmann::json> WatchRun(ApiClient& client, const std::string& run_id,
                                StatusPrinter& printer,
                                const std::function<bool(std::chrono::milliseconds)>& pause) {
  RunProgress progress(printer);
  std::map<std::string, std::string> names;
  int transient_failures = 0;
  while (true) {
    auto run = client.Get("/api/v1/runs/" + run_id);
    if (run.ok()) {
      transient_failures = 0;
      if (HasUnnamedWorker(*run, names)) {
        if (auto workers = client.Get("/api/v1/workers"); workers.ok())
          names = WorkerNames(*workers);
      }
      progress.Update(*run, names);
      if (IsFinalRunState(Str(*run, "state"))) return run;
    } else if (run.status().code() != StatusCode::kUnavailable || ++transient_failures > 20) {
      return run.status();
    }
    if (!pause(std::chrono::milliseconds(500))) return Cancelled("stopped watching");
  }
}

namespace {

bool SleepPause(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);  // polling interval of a CLI watching a remote run
  return true;
}

int RunVerbRun(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 1) return Fail(err, InvalidArgument("usage: edgefarm run FILE"));
  auto server = ResolveServer(args.server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  const bool json = args.switches.count("--json") > 0;
  std::ostringstream quiet;
  ConsoleStatusPrinter printer(json ? static_cast<std::ostream&>(quiet) : err);
  auto run_id = SubmitPipeline(client, args.positional[0], &printer);
  if (!run_id.ok()) return Fail(err, run_id.status());
  if (!args.switches.count("--wait")) {
    if (json)
      out << nlohmann::json{{"run_id", *run_id}}.dump() << "\n";
    else
      out << *run_id << "\n";
    return 0;
  }
  auto run = WatchRun(client, *run_id, printer, SleepPause);
  if (!run.ok()) return Fail(err, run.status());
  if (json) {
    out << run->dump(2) << "\n";
  } else {
    auto pipeline = LoadPipelineFile(args.positional[0]);
    out << FormatMatrixTable(BuildMatrixRows(*run, pipeline.ok() ? &pipeline->gates : nullptr,
                                             FetchWorkerNames(client)));
    out << "run " << *run_id << " " << Str(*run, "state") << "\n";
  }
  return Str(*run, "state") == "succeeded" ? 0 : 1;
}

std::string AttemptSummary(const nlohmann::json& job) {
  auto attempts = job.find("attempts");
  if (attempts == job.end() || !attempts->is_array() || attempts->empty()) return "0";
  const auto& last = attempts->back();
  std::string s = std::to_string(attempts->size());
  const std::string reason = Str(last, "reason");
  if (!reason.empty()) s += " (" + reason + ")";
  return s;
}

int RunVerbStatus(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() > 1) return Fail(err, InvalidArgument("usage: edgefarm status [RUN]"));
  auto server = ResolveServer(args.server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  const std::string path =
      args.positional.empty() ? "/api/v1/runs" : "/api/v1/runs/" + args.positional[0];
  auto reply = client.Get(path);
  if (!reply.ok()) return Fail(err, reply.status());
  // One run: its gate verdicts, Pareto choice, staging and promotions (promotion_commands.h).
  auto promotion = args.positional.empty() ? Result<nlohmann::json>(NotFound(""))
                                            : client.Get(path + "/promotion");
  if (args.switches.count("--json")) {
    if (promotion.ok()) (*reply)["promotion"] = *promotion;
    out << reply->dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (args.positional.empty()) {
    for (const auto& run : reply->value("runs", nlohmann::json::array())) {
      rows.push_back({Str(run, "id"), Str(run, "name"), Str(run, "state"),
                      Str(run, "jobs_done") + "/" + Str(run, "jobs_total")});
    }
    out << FormatTable({"run", "name", "state", "jobs"}, rows);
    return 0;
  }
  out << "run " << Str(*reply, "id") << " (" << Str(*reply, "name") << "): " << Str(*reply, "state")
      << "\n";
  const auto names = FetchWorkerNames(client);
  for (const auto& job : reply->value("jobs", nlohmann::json::array())) {
    std::string worker = Str(job, "worker");
    if (auto it = names.find(worker); it != names.end()) worker = it->second;
    rows.push_back({Str(job, "id"), Str(job, "name"), Str(job, "state"),
                    worker.empty() ? "-" : worker, AttemptSummary(job)});
  }
  out << FormatTable({"job", "name", "state", "worker", "attempts"}, rows);
  out << "\n" << FormatMatrixTable(BuildMatrixRows(*reply, nullptr, names));
  if (promotion.ok()) out << "\n" << FormatPromotionReport(*promotion);
  return 0;
}

int RunVerbWorkers(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  auto server = ResolveServer(args.server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  auto reply = client.Get("/api/v1/workers");
  if (!reply.ok()) return Fail(err, reply.status());
  if (args.switches.count("--json")) {
    out << reply->dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : reply->value("workers", nlohmann::json::array())) {
    const auto tags = w.value("tags", nlohmann::json::object());
    std::string hw = Str(tags, "arch") + " " + Str(tags, "cpu.vendor");
    if (!Str(tags, "gpu.vendor").empty()) hw += " gpu=" + Str(tags, "gpu.model");
    rows.push_back({Str(w, "id"), Str(w, "name"), Str(w, "state"),
                    Str(w, "running") + "/" + Str(w, "slots"), hw});
  }
  out << FormatTable({"worker", "name", "state", "running", "hardware"}, rows);
  return 0;
}

int RunVerbLogs(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 1)
    return Fail(err, InvalidArgument("usage: edgefarm logs JOB [-f]"));
  auto server = ResolveServer(args.server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  const bool follow = args.switches.count("-f") > 0;
  uint64_t offset = 0;
  while (true) {
    auto piece = client.GetLog(args.positional[0], offset);
    if (!piece.ok()) return Fail(err, piece.status());
    out << piece->data << std::flush;
    offset += piece->data.size();
    if (!follow || piece->complete) return 0;
    if (piece->data.empty()) SleepPause(std::chrono::milliseconds(500));
  }
}

bool IsFinalJobState(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "skipped";
}

int AlreadyFinished(std::ostream& err, const std::string& what, const std::string& state) {
  err << "edgefarm: " << what << " already finished (" << state << "); nothing to cancel\n";
  return 1;
}

// Job ids are "<run id>-<n>" and run ids are opaque, so the id's kind is found by asking the
// server (run first) rather than by parsing it.
int RunVerbCancel(const ParsedArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 1 || args.positional[0].empty() ||
      args.positional[0].find_first_of("/?#%") != std::string::npos) {
    return Fail(err, InvalidArgument("usage: edgefarm cancel RUN|JOB"));
  }
  const std::string& id = args.positional[0];
  auto server = ResolveServer(args.server);
  if (!server.ok()) return Fail(err, server.status());
  ApiClient client(*server);
  std::string kind = "run";
  auto found = client.Get("/api/v1/runs/" + id);
  if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
    kind = "job";
    found = client.Get("/api/v1/jobs/" + id);
    if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
      return Fail(err, NotFound("no run or job " + id));
    }
  }
  if (!found.ok()) return Fail(err, found.status());
  const std::string what = kind + " " + id;
  const std::string before = Str(*found, "state");
  if (kind == "run" ? IsFinalRunState(before) : IsFinalJobState(before)) {
    return AlreadyFinished(err, what, before);
  }
  auto reply = client.Post("/api/v1/" + kind + "s/" + id + "/cancel", nlohmann::json::object());
  if (!reply.ok()) {
    // 409: it finished between the look-up and the request.
    if (reply.status().message().find("HTTP 409") != std::string::npos) {
      return AlreadyFinished(err, what, "finished");
    }
    return Fail(err, reply.status());
  }
  if (args.switches.count("--json")) {
    out << reply->dump(2) << "\n";
  } else if (kind == "job") {
    out << "cancelled job " << id << " (" << Str(*reply, "name") << ")\n";
  } else {
    int stopped = 0;
    for (const auto& job : reply->value("jobs", nlohmann::json::array())) {
      stopped += Str(job, "state") == "cancelled" || Str(job, "state") == "skipped" ? 1 : 0;
    }
    out << "cancelled run " << id << " (" << stopped << " job(s) cancelled or skipped)\n";
  }
  return 0;
}

}  // namespace

int RunClientCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string verb = argc > 0 ? argv[0] : "";
  const std::set<std::string> switches = {"--json", "--wait", "-f"};
  auto args = ParseArgs(argc, argv, switches);
  if (!args.ok()) return Fail(err, args.status());
  if (verb == "run") return RunVerbRun(*args, out, err);
  if (verb == "status") return RunVerbStatus(*args, out, err);
  if (verb == "workers") return RunVerbWorkers(*args, out, err);
  if (verb == "logs") return RunVerbLogs(*args, out, err);
  if (verb == "cancel") return RunVerbCancel(*args, out, err);
  return Fail(err, InvalidArgument("unknown command '" + verb + "'"));
}

}  // namespace edgefarm::cli
