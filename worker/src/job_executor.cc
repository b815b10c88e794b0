// Job execution. One Attempt object per Execute call owns the attempt's scratch directory, its
// log numbering and the JobResult being filled in, so concurrent jobs share nothing but the
// cache and the runner.
//
// The engine's JOB.json is the coordinator's record with "inputs" added here, because only the
// worker knows where its cache put the files. Artifact names are checked to be plain relative
// paths before they are reported, so a hostile engine output cannot name "../x".
#include "edgefarm/worker/job_executor.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace edgefarm::worker {

namespace fs = std::filesystem;

class JobExecutor::Attempt {
 public:
  Attempt(JobExecutor& executor, const v1::Assign& assign, const BlobEndpoint& blobs,
          const LogSender& send_log, const CancelFlag& cancel)
      : ex_(executor), assign_(assign), blobs_(blobs), send_log_(send_log), cancel_(cancel) {
    result_.set_job_id(assign.job_id());
    result_.set_attempt(assign.attempt());
    result_.set_lease_token(assign.lease_token());
  }

  v1::JobResult Run() {
    // A cancel (or a passed deadline) that came before the process started stops it from
    // starting at all; inputs are not fetched for it either.
    const Status prepared = cancel_.cancelled() ? Status::Ok() : Prepare();
    if (cancel_.cancelled()) {
      Fail(v1::OUTCOME_CANCELLED, kCancelledBeforeStart);
    } else if (!prepared.ok()) {
      Fail(v1::OUTCOME_INFRA_ERROR, prepared.ToString());
    } else if (assign_.spec().has_engine()) {
      RunEngine();
    } else if (assign_.spec().has_command()) {
      RunCommand();
    } else {
      Fail(v1::OUTCOME_FAILED, "job spec has neither an engine nor a command task");
    }
    result_.set_log_bytes(log_offset_);
    if (!ex_.options_.keep_scratch) {
      std::error_code ec;
      fs::remove_all(scratch_, ec);
    }
    return result_;
  }

 private:
  Status Prepare() {
    scratch_ = ex_.options_.scratch_root /
               (SafeName(assign_.job_id()) + "-" + std::to_string(assign_.attempt()));
    std::error_code ec;
    fs::remove_all(scratch_, ec);
    fs::create_directories(scratch_, ec);
    if (ec) return IoError("cannot create scratch dir " + scratch_.string() + ": " + ec.message());
    for (const v1::InputFile& input : assign_.spec().inputs()) {
      if (input.name().empty() || input.name().find('/') != std::string::npos ||
          input.name() == "." || input.name() == "..") {
        return InvalidArgument("input role '" + input.name() + "' is not a plain name");
      }
      Note("fetching input " + input.name() + " (" + input.digest() + ")");
      auto path = ex_.cache_.Fetch(blobs_, input.digest());
      if (!path.ok()) return path.status().WithContext("input " + input.name());
      inputs_[input.name()] = fs::absolute(*path);
    }
    return Status::Ok();
  }

  void RunEngine() {
    const v1::EngineTask& task = assign_.spec().engine();
    nlohmann::json job = nlohmann::json::parse(task.job_json(), nullptr, false);
    if (job.is_discarded() || !job.is_object()) {
      Fail(v1::OUTCOME_FAILED, "engine job_json is not a JSON object");
      return;
    }
    for (const auto& [role, path] : inputs_) job["inputs"][role] = path.string();
    const fs::path job_file = scratch_ / "JOB.json";
    const fs::path out_dir = scratch_ / "out";
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    std::ofstream(job_file) << job.dump(2) << "\n";
    ProcessSpec spec = BaseSpec();
    spec.argv = {ex_.options_.engine_path.string(), "run", job_file.string(), "--out",
                 out_dir.string()};
    if (!RunChild(spec)) return;
    if (fs::is_regular_file(out_dir / "result.json", ec)) {
      std::ifstream in(out_dir / "result.json", std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      result_.set_result_json(text.str());
    } else if (result_.outcome() == v1::OUTCOME_SUCCEEDED) {
      Fail(v1::OUTCOME_FAILED, "engine exited 0 but wrote no result.json");
    }
    const Status uploaded = UploadOutputs(out_dir);
    if (!uploaded.ok()) Fail(v1::OUTCOME_INFRA_ERROR, uploaded.ToString());
  }

  void RunCommand() {
    const v1::CommandTask& task = assign_.spec().command();
    if (task.argv().empty()) {
      Fail(v1::OUTCOME_FAILED, "command step has an empty argv");
      return;
    }
    for (const auto& [role, path] : inputs_) {
      std::error_code ec;
      fs::create_symlink(path, scratch_ / role, ec);
      if (ec) {
        Fail(v1::OUTCOME_INFRA_ERROR, "cannot link input " + role + ": " + ec.message());
        return;
      }
    }
    ProcessSpec spec = BaseSpec();
    spec.argv.assign(task.argv().begin(), task.argv().end());
    for (const auto& [k, v] : task.env()) spec.env[k] = v;
    RunChild(spec);
  }

  ProcessSpec BaseSpec() const {
    ProcessSpec spec;
    spec.working_dir = scratch_;
    spec.timeout = std::chrono::seconds(assign_.spec().timeout_seconds());
    spec.kill_grace = ex_.options_.kill_grace;
    spec.env["EDGEFARM_JOB_ID"] = assign_.job_id();
    spec.env["EDGEFARM_RUN_ID"] = assign_.spec().run_id();
    spec.env["EDGEFARM_ATTEMPT"] = std::to_string(assign_.attempt());
    return spec;
  }

  // Runs the child and records its outcome; false when it could not be started.
  bool RunChild(const ProcessSpec& spec) {
    auto sink = [this](std::string_view stream, std::string_view data) { Log(stream, data); };
    auto outcome = ex_.runner_.Run(spec, sink, &cancel_);
    if (!outcome.ok()) {
      Fail(v1::OUTCOME_INFRA_ERROR, outcome.status().ToString());
      return false;
    }
    v1::ResourceUsage* usage = result_.mutable_usage();
    usage->set_peak_rss_bytes(outcome->peak_rss_bytes);
    usage->set_user_cpu_seconds(outcome->user_cpu_seconds);
    usage->set_system_cpu_seconds(outcome->system_cpu_seconds);
    usage->set_wall_seconds(outcome->wall_seconds);
    result_.set_exit_code(outcome->exit_code);
    result_.set_term_signal(outcome->term_signal);
    if (outcome->cancelled) {
      Fail(v1::OUTCOME_CANCELLED, "cancelled");
    } else if (outcome->timed_out) {
      Fail(v1::OUTCOME_TIMED_OUT,
           "timed out after " + std::to_string(assign_.spec().timeout_seconds()) + " s");
    } else if (outcome->term_signal != 0) {
      Fail(v1::OUTCOME_FAILED, "killed by signal " + std::to_string(outcome->term_signal));
    } else if (outcome->exit_code != 0) {
      Fail(v1::OUTCOME_FAILED, "exited with status " + std::to_string(outcome->exit_code));
    } else {
      result_.set_outcome(v1::OUTCOME_SUCCEEDED);
    }
    return true;
  }

  Status UploadOutputs(const fs::path& out_dir) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(out_dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string name = it->path().lexically_relative(out_dir).generic_string();
      if (name.empty() || name.rfind("..", 0) == 0) continue;
      auto info = UploadBlob(blobs_, it->path());
      if (!info.ok()) return info.status().WithContext("artifact " + name);
      v1::Artifact* artifact = result_.add_artifacts();
      artifact->set_name(name);
      artifact->set_digest(info->digest);
      artifact->set_size(info->size);
      Note("uploaded artifact " + name + " (" + std::to_string(info->size) + " bytes)");
    }
    if (ec) return IoError("cannot list " + out_dir.string() + ": " + ec.message());
    return Status::Ok();
  }

  void Fail(v1::Outcome outcome, const std::string& message) {
    result_.set_outcome(outcome);
    result_.set_message(message);
    Note(message);
  }

  // Worker-side lines go into the job's log so a reader sees why an attempt failed.
  void Note(const std::string& line) { Log("stderr", "[edgefarm-worker] " + line + "\n"); }

  void Log(std::string_view stream, std::string_view data) {
    v1::LogChunk chunk;
    chunk.set_job_id(assign_.job_id());
    chunk.set_attempt(assign_.attempt());
    chunk.set_lease_token(assign_.lease_token());
    chunk.set_sequence(log_sequence_++);
    chunk.set_offset(log_offset_);
    chunk.set_data(std::string(data));
    chunk.set_stream(std::string(stream));
    log_offset_ += data.size();
    if (send_log_) send_log_(std::move(chunk));
  }

  static std::string SafeName(const std::string& id) {
    std::string out;
    for (char c : id) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
    return out.empty() ? "job" : out;
  }

  JobExecutor& ex_;
  const v1::Assign& assign_;
  const BlobEndpoint& blobs_;
  const LogSender& send_log_;
  const CancelFlag& cancel_;
  fs::path scratch_;
  std::map<std::string, fs::path> inputs_;
  v1::JobResult result_;
  uint64_t log_sequence_ = 0;
  uint64_t log_offset_ = 0;
};

JobExecutor::JobExecutor(ExecutorOptions options, ProcessRunner& runner, InputCache& cache,
                         std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)), runner_(runner), cache_(cache), logger_(std::move(logger)) {}

v1::JobResult JobExecutor::Execute(const v1::Assign& assign, const BlobEndpoint& blobs,
                                   const LogSender& send_log, const CancelFlag& cancel) {
  Attempt attempt(*this, assign, blobs, send_log, cancel);
  v1::JobResult result = attempt.Run();
  if (logger_) {
    logger_->info("job {} attempt {} finished: {} {}", assign.job_id(), assign.attempt(),
                  v1::Outcome_Name(result.outcome()), result.message());
  }
  return result;
}

}  // namespace edgefarm::worker
