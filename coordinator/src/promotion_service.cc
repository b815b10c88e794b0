// PromotionService: from a finished run to promotions. See promotion_service.h for the flow.
//
// Implementation notes:
// - A run's progress is one JSON record (RunPromotionStore), replaced whole and committed before
//   the service acts on it (a stage job is submitted, then the record naming it is saved: a crash
//   in between resubmits, which costs a duplicate check, never a lost one).
// - The runs it drives are those submitted through the API (NoteSubmitter, durable before the
//   run is acknowledged), never a scan of every run: listing runs reads the finished ones from
//   sqlite, far too costly to repeat. Its own runs ("stage/..." and "env/...") are never noted.
//   Scheduler reads happen under the coordinator's lock only to copy records out.
// - Per target the record walks: no_candidate | staging → staged | stage_failed | stage_error →
//   waiting_for_environment → promoting | not_promoted. Nothing is done twice.
#include "edgefarm/coordinator/promotion_service.h"

#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/gate_verdicts.h"
#include "edgefarm/coordinator/pareto.h"
#include "edgefarm/coordinator/stage_job.h"
#include "edgefarm/pipelines/pipeline_loader.h"
#include "promotion_service_store.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

constexpr int kStageTimeoutSeconds = 900;

bool IsFinal(RunState state) {
  return state == RunState::kSucceeded || state == RunState::kFailed ||
         state == RunState::kCancelled;
}

// Target statuses after which the service has nothing left to do for the target.
bool TargetDone(const std::string& status) {
  return status == "no_candidate" || status == "stage_failed" || status == "stage_error" ||
         status == "promoting" || status == "not_promoted" || status == "staged";
}

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "security.signature: <reason>; load: <reason>" for the failed checks of a stage report.
std::string FailedChecks(const json& report) {
  std::string out;
  for (const auto& check : report.value("checks", json::array())) {
    if (check.value("passed", false)) continue;
    if (!out.empty()) out += "; ";
    out += Text(check, "name") + ": " + Text(check, "reason");
  }
  return out.empty() ? "the stage report says it failed" : out;
}

}  // namespace

// A finished run's records, copied out of the scheduler.
struct PromotionService::RunView {
  RunRecord run;
  std::vector<JobRecord> jobs;
};

PromotionService::PromotionService(PromotionServiceOptions options)
    : options_(std::move(options)), logger_(options_.logger) {}

PromotionService::~PromotionService() {
  Stop();
}

Status PromotionService::OpenStores() {
  const auto db = options_.data_dir / "promotion.db";
  EF_ASSIGN_OR_RETURN(ledger_, PromotionLedger::Open(db));
  EF_ASSIGN_OR_RETURN(store_, RunPromotionStore::Open(db));
  EF_ASSIGN_OR_RETURN(key_, EnsureSigningKey(options_.data_dir));
  EF_ASSIGN_OR_RETURN(auto pending, store_->Pending());
  for (auto& row : pending) {
    submitters_[row.run_id] = row.submitter;
    json record = json::parse(row.record_json, nullptr, false);
    records_[row.run_id] = record.is_object() ? record : json(nullptr);
  }
  return Status::Ok();
}

Status PromotionService::Start() {
  {
    std::lock_guard lock(mu_);
    EF_RETURN_IF_ERROR(OpenStores());
    EF_RETURN_IF_ERROR(ResumeStored());
  }
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void PromotionService::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PromotionService::Loop() {
  while (!stop_) {
    Tick();
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, options_.tick_interval, [this] { return stop_.load(); });
  }
}

Status PromotionService::NoteSubmitter(const std::string& run_id, const std::string& user) {
  std::lock_guard lock(mu_);
  if (!store_) return FailedPrecondition("the promotion service is not started");
  if (submitters_.count(run_id)) return Status::Ok();  // noted before (a trigger redelivery)
  EF_ASSIGN_OR_RETURN(auto known, store_->Get(run_id));
  if (known) return Status::Ok();  // noted and already driven to its end
  submitters_[run_id] = user;
  if (!records_.count(run_id)) records_[run_id] = nullptr;
  return store_->Put({run_id, user, "", false, options_.clock->UnixMillis()});
}

void PromotionService::Tick() {
  std::lock_guard lock(mu_);
  if (!store_) return;
  std::vector<std::string> ids;
  for (const auto& [id, record] : records_) ids.push_back(id);
  for (const auto& id : ids) {
    json& record = records_[id];
    if (record.is_null()) {
      Evaluate(id);
    } else {
      AdvanceRun(id, record);
    }
  }
  for (auto it = records_.begin(); it != records_.end();) {
    it = it->second.is_object() && it->second.value("done", false) ? records_.erase(it)
                                                                   : std::next(it);
  }
  AdvanceMachines();
}

void PromotionService::Evaluate(const std::string& run_id) {
  std::optional<RunView> view;
  options_.with_scheduler([&](Scheduler& scheduler) {
    const RunRecord* run = scheduler.FindRun(run_id);
    if (run == nullptr || !IsFinal(run->state)) return;
    view.emplace();
    view->run = *run;
    for (const JobRecord* job : scheduler.JobsOf(run_id)) view->jobs.push_back(*job);
  });
  if (!view) return;  // still running (or not known yet)
  json record = {{"run_id", run_id},
                 {"run_name", view->run.name},
                 {"run_state", ToString(view->run.state)},
                 {"submitted_by", submitters_[run_id]},
                 {"evaluated_at_ms", options_.clock->UnixMillis()},
                 {"verdicts", json::array()},
                 {"targets", json::object()},
                 {"done", true}};
  auto pipeline = pipelines::LoadPipeline(view->run.pipeline_yaml, view->run.pipeline_file);
  if (!pipeline.ok()) {
    record["reason"] = "pipeline does not load: " + pipeline.status().message();
  } else {
    std::vector<const JobRecord*> jobs;
    std::map<std::string, const JobRecord*> by_id;
    for (const auto& job : view->jobs) {
      jobs.push_back(&job);
      by_id[job.id] = &job;
    }
    auto verdicts = JudgeCells(pipeline->gates, jobs);
    for (const auto& v : verdicts) record["verdicts"].push_back(CellVerdictJson(v));
    auto recommendations = Recommend(verdicts, pipeline->recipes.olive.weights);
    for (const auto& [target, rec] : recommendations) {
      json entry = {{"target", target},
                    {"recommendation", RecommendationJson(rec)},
                    {"status", "no_candidate"},
                    {"reason", rec.job_id.empty() ? "no cell passed its gates" : ""}};
      const JobRecord* cell = rec.job_id.empty() ? nullptr : by_id[rec.job_id];
      if (cell != nullptr) {
        entry["cell_job_id"] = cell->id;
        entry["tags"] = cell->required_tags;
        for (const auto& a : cell->artifacts) {
          if (a.name == "model.gguf") entry["artifact"] = {{"digest", a.digest}, {"size", a.size}};
        }
        for (const auto& in : cell->inputs) {
          if (in.name == "model") entry["baseline"] = {{"digest", in.digest}, {"size", in.size}};
        }
        if (!entry.contains("artifact")) {
          entry["reason"] = "the recommended cell has no model.gguf artifact";
        } else if (pipeline->staging) {
          entry["status"] = "staging";
          entry["staging"] = {{"state", "pending"}, {"submissions", 0}};
        } else {
          entry["status"] = "staged";
          entry["staging"] = {{"state", "not_configured"}};
        }
        if (pipeline->promotion && entry.contains("artifact")) {
          const bool single = recommendations.size() == 1;
          entry["environment"] = single ? pipeline->promotion->environment
                                        : pipeline->promotion->environment + "-" + target;
          if (entry["status"] == "staged") entry["status"] = "waiting_for_environment";
        }
      }
      record["done"] = record["done"].get<bool>() && TargetDone(entry["status"]);
      record["targets"][target] = std::move(entry);
    }
  }
  records_[run_id] = record;
  if (Status s = SaveRecord(run_id, record); !s.ok()) logger_->error("{}", s.ToString());
  logger_->info("run {}: gate verdicts and Pareto choice stored ({} cells)", run_id,
                record["verdicts"].size());
}

Status PromotionService::SaveRecord(const std::string& run_id, const json& record) {
  return store_->Put({run_id, submitters_[run_id], record.dump(), record.value("done", false),
                      options_.clock->UnixMillis()});
}

void PromotionService::AdvanceRun(const std::string& run_id, json& record) {
  bool changed = false;
  bool done = true;
  std::vector<std::string> targets;
  for (const auto& [target, entry] : record["targets"].items()) targets.push_back(target);
  for (const auto& target : targets) {
    changed = AdvanceTarget(run_id, target, record) || changed;
    done = done && TargetDone(Text(record["targets"][target], "status"));
  }
  record["done"] = done;
  if (changed || done) {
    if (Status s = SaveRecord(run_id, record); !s.ok()) logger_->error("{}", s.ToString());
  }
}

bool PromotionService::AdvanceTarget(const std::string& run_id, const std::string& target,
                                     json& record) {
  json& entry = record["targets"][target];
  const std::string before = entry.dump();
  const std::string status = Text(entry, "status");
  if (status == "staging") {
    json& staging = entry["staging"];
    if (Text(staging, "state") == "pending") SubmitStage(run_id, target, entry);
    if (Text(staging, "state") == "submitted") CheckStage(entry);
    const std::string state = Text(staging, "state");
    if (state == "passed") {
      entry["status"] = entry.contains("environment") ? "waiting_for_environment" : "staged";
      entry["reason"] = "staging passed";
    } else if (state == "failed") {
      entry["status"] = "stage_failed";
      entry["reason"] = "staging failed: " + Text(staging, "reason");
    } else if (state == "error") {
      entry["status"] = "stage_error";
      entry["reason"] = "staging could not run: " + Text(staging, "reason");
    }
  }
  if (Text(entry, "status") == "waiting_for_environment") BeginPromotion(run_id, target, record);
  return entry.dump() != before;
}

void PromotionService::SubmitStage(const std::string& run_id, const std::string& target,
                                   json& entry) {
  json& staging = entry["staging"];
  std::optional<pipelines::StagingSpec> spec;
  options_.with_scheduler([&](Scheduler& scheduler) {
    const RunRecord* run = scheduler.FindRun(run_id);
    if (run == nullptr) return;
    auto p = pipelines::LoadPipeline(run->pipeline_yaml, run->pipeline_file);
    if (p.ok()) spec = p->staging;
  });
  if (!spec) {
    staging["state"] = "error";
    staging["reason"] = "the run's pipeline has no staging section any more";
    return;
  }
  StageRequest request;
  request.artifact_digest = Text(entry["artifact"], "digest");
  request.model_path = "model.gguf";  // the worker's inputs.model wins
  request.spec = *spec;
  auto stage_json = StageJobJson(request, key_);
  if (!stage_json.ok()) {
    staging["state"] = "error";
    staging["reason"] = stage_json.status().message();
    return;
  }
  PlannedRun planned;
  planned.name = "stage/" + run_id + "/" + target;
  planned.pipeline_file = "(stage check)";
  JobRecord job;
  job.name = "stage-check/" + target;
  job.is_engine = true;
  job.framework = "stage";
  job.target = target;
  job.required_tags = entry.value("tags", std::map<std::string, std::string>());
  job.engine_job_json = *stage_json;
  job.inputs.push_back({"model", request.artifact_digest, entry["artifact"].value("size", 0ull)});
  job.timeout_seconds = kStageTimeoutSeconds;
  planned.jobs.push_back(std::move(job));
  Result<std::string> stage_run = InvalidArgument("no scheduler");
  options_.with_scheduler(
      [&](Scheduler& scheduler) { stage_run = scheduler.SubmitRun(std::move(planned)); });
  if (!stage_run.ok()) {
    logger_->warn("run {}: cannot submit the stage check for {}: {}", run_id, target,
                  stage_run.status().ToString());
    return;  // retried on the next tick
  }
  staging["state"] = "submitted";
  staging["run_id"] = *stage_run;
  staging["job_id"] = *stage_run + "-0";
  staging["submissions"] = staging.value("submissions", 0) + 1;
  logger_->info("run {}: stage check for {} submitted as run {}", run_id, target, *stage_run);
}

void PromotionService::CheckStage(json& entry) {
  json& staging = entry["staging"];
  std::optional<JobRecord> job;
  std::string last_reason;
  options_.with_scheduler([&](Scheduler& scheduler) {
    const JobRecord* found = scheduler.FindJob(Text(staging, "job_id"));
    if (found == nullptr) return;
    job = *found;
    auto attempts = scheduler.AttemptsOf(found->id);
    if (!attempts.empty()) last_reason = attempts.back()->reason;
  });
  if (!job || !IsTerminal(job->state)) return;
  json report = json::parse(job->result_json, nullptr, false);
  const bool has_report = job->state == JobState::kSucceeded && report.is_object() &&
                          report.contains("checks") && report.contains("passed");
  if (has_report) {
    staging["report"] = report;
    for (const auto& a : job->artifacts) {
      if (a.name == "stage-result.json") staging["result_artifact"] = a.digest;
    }
    const bool passed = report.value("passed", false);
    staging["state"] = passed ? "passed" : "failed";
    staging["reason"] = passed ? "every check passed" : FailedChecks(report);
    return;
  }
  // No report: the checks did not run (lost worker, fetch failure, crash). Not a verdict.
  const std::string why =
      std::string(ToString(job->state)) + (last_reason.empty() ? "" : " (" + last_reason + ")");
  staging["last_error"] = why;
  if (staging.value("submissions", 0) < options_.max_stage_submissions) {
    staging["state"] = "pending";
    logger_->warn("stage job {} ended without a report: {}; submitting it again",
                  Text(staging, "job_id"), why);
  } else {
    staging["state"] = "error";
    staging["reason"] = "no stage report after " + std::to_string(staging.value("submissions", 0)) +
                        " submissions; last: " + why;
  }
}

void PromotionService::BeginPromotion(const std::string& run_id, const std::string& target,
                                      json& record) {
  json& entry = record["targets"][target];
  const std::string environment = Text(entry, "environment");
  if (ActiveMachine(environment) != nullptr) return;  // waits for the running promotion
  auto config = ConfigFor(run_id);
  if (!config.ok()) {
    entry["status"] = "not_promoted";
    entry["reason"] = config.status().message();
    return;
  }
  if (!options_.slots) {
    entry["status"] = "not_promoted";
    entry["reason"] = "this coordinator has no slot control to run servers with";
    return;
  }
  const auto tags = entry.value("tags", std::map<std::string, std::string>());
  auto slots = SlotsFor(environment, tags);
  if (!slots.ok()) {
    logger_->warn("environment {}: no slots yet: {}", environment, slots.status().ToString());
    return;  // retried on the next tick
  }
  PromotionState state;
  state.id = "prom-" + RandomHex(6);
  state.environment = environment;
  state.run_id = run_id;
  state.triggered_by = submitters_[run_id];
  state.candidate_version = Text(entry["artifact"], "digest");
  auto rows = ledger_->Promotions(environment);
  if (rows.ok() && !rows->empty()) {
    auto last = PromotionStateFromJson(rows->back().state_json);
    if (last.ok()) {
      state.stable_version = LiveVersion(*last);
      state.stable_slot = LiveSlot(*last);
    }
  }
  const std::string baseline = entry.contains("baseline") ? Text(entry["baseline"], "digest") : "";
  if (state.stable_version.empty() && !baseline.empty() && baseline != state.candidate_version) {
    // Nothing serves the environment yet: the unoptimised model the run started from is what
    // would be served without this promotion, so the candidate ramps against it and a failing
    // candidate rolls back to it (instead of a first deploy that switches without a ramp).
    state.stable_version = baseline;
    state.stable_slot = "blue";
    state.stable_is_baseline = true;
  }
  if (state.stable_version == state.candidate_version) {
    entry["status"] = "not_promoted";
    entry["reason"] = "this version is already live in " + environment;
    return;
  }
  json evidence = {{"run_id", run_id},
                   {"target", target},
                   {"tags", tags},
                   {"recommendation", entry["recommendation"]},
                   {"staging", entry.value("staging", json::object())},
                   {"verdicts", json::array()}};
  for (const auto& v : record["verdicts"]) {
    if (Text(v, "target") == target) evidence["verdicts"].push_back(v);
  }
  state.evidence = evidence.dump();
  auto machine =
      std::make_unique<PromotionMachine>(*config, ledger_.get(), *slots, options_.clock, logger_);
  if (Status s = machine->Begin(std::move(state)); !s.ok()) {
    logger_->error("run {}: cannot begin a promotion in {}: {}", run_id, environment, s.ToString());
    return;
  }
  entry["status"] = "promoting";
  entry["promotion_id"] = machine->state().id;
  entry["reason"] = "promotion " + machine->state().id + " begun in " + environment;
  logger_->info("run {}: promotion {} of {} into {} begun ({})", run_id, machine->state().id,
                machine->state().candidate_version.substr(0, 12), environment,
                ToString(machine->state().phase));
  machines_[environment] = std::move(machine);
}

PromotionConfig PromotionService::RollbackConfig() const {
  PromotionConfig config;
  config.spec.traffic = {{100, 0}};
  config.spec.approval.required = false;  // the route checked the release role
  config.limits = options_.limits;
  config.start_timeout_ms = options_.start_timeout_ms;
  config.analysis_grace_ms = options_.analysis_grace_ms;
  config.pause_timeout_ms = options_.pause_timeout_ms;
  config.scale_down_delay_ms = options_.scale_down_delay_ms;
  return config;
}

Result<PromotionConfig> PromotionService::ConfigFor(const std::string& run_id) {
  Result<pipelines::Pipeline> pipeline = NotFound("run " + run_id + " is not known");
  options_.with_scheduler([&](Scheduler& scheduler) {
    const RunRecord* run = scheduler.FindRun(run_id);
    if (run != nullptr) pipeline = pipelines::LoadPipeline(run->pipeline_yaml, run->pipeline_file);
  });
  if (!pipeline.ok()) return pipeline.status();
  if (!pipeline->promotion) return FailedPrecondition("the pipeline has no promotion section");
  PromotionConfig config;
  config.spec = *pipeline->promotion;
  if (config.spec.traffic.empty()) config.spec.traffic = {{100, 0}};
  config.limits = options_.limits;
  const pipelines::AnalysisSpec& analysis = config.spec.analysis;
  if (analysis.max_error_rate) config.limits.max_error_rate = *analysis.max_error_rate;
  if (analysis.max_p95_ratio) config.limits.max_p95_ratio = *analysis.max_p95_ratio;
  if (analysis.min_requests) config.limits.min_requests = uint64_t(*analysis.min_requests);
  config.start_timeout_ms = options_.start_timeout_ms;
  config.analysis_grace_ms = options_.analysis_grace_ms;
  config.pause_timeout_ms = options_.pause_timeout_ms;
  config.scale_down_delay_ms = options_.scale_down_delay_ms;
  return config;
}

Result<EnvironmentSlots*> PromotionService::SlotsFor(
    const std::string& environment, const std::map<std::string, std::string>& tags) {
  if (auto it = slots_.find(environment); it != slots_.end()) return it->second.get();
  if (!options_.slots) return FailedPrecondition("this coordinator has no slot control");
  EF_ASSIGN_OR_RETURN(auto slots, options_.slots(environment, tags));
  EnvironmentSlots* raw = slots.get();
  for (const auto& [version, fault] : pending_faults_[environment]) {
    if (Status s = raw->SetFault(version, fault); !s.ok()) {
      logger_->warn("environment {}: fault for {}: {}", environment, version, s.ToString());
    }
  }
  pending_faults_.erase(environment);
  slots_[environment] = std::move(slots);
  return raw;
}

PromotionMachine* PromotionService::ActiveMachine(const std::string& environment) {
  auto it = machines_.find(environment);
  if (it == machines_.end() || IsTerminal(it->second->state().phase)) return nullptr;
  return it->second.get();
}

Status PromotionService::ResumeStored() {
  EF_ASSIGN_OR_RETURN(auto environments, ledger_->Environments());
  for (const auto& environment : environments) {
    EF_ASSIGN_OR_RETURN(auto rows, ledger_->Promotions(environment));
    for (const auto& row : rows) {
      auto state = PromotionStateFromJson(row.state_json);
      if (!state.ok()) {
        logger_->error("promotion {}: {}", row.id, state.status().ToString());
        continue;
      }
      if (IsTerminal(state->phase)) continue;
      auto config = state->rollback_of.empty() ? ConfigFor(state->run_id)
                                               : Result<PromotionConfig>(RollbackConfig());
      json evidence = json::parse(state->evidence, nullptr, false);
      auto tags = evidence.is_object()
                      ? evidence.value("tags", std::map<std::string, std::string>())
                      : std::map<std::string, std::string>();
      auto slots = config.ok() ? SlotsFor(environment, tags) : config.status();
      if (!slots.ok()) {
        logger_->error("promotion {} cannot resume: {}", row.id, slots.status().ToString());
        continue;
      }
      auto machine = std::make_unique<PromotionMachine>(*config, ledger_.get(), *slots,
                                                        options_.clock, logger_);
      if (Status s = machine->Resume(*state); !s.ok()) {
        logger_->error("promotion {} cannot resume: {}", row.id, s.ToString());
        continue;
      }
      logger_->info("promotion {} in {} resumed ({})", row.id, environment,
                    ToString(machine->state().phase));
      machines_[environment] = std::move(machine);
    }
  }
  return Status::Ok();
}

void PromotionService::AdvanceMachines() {
  for (auto& [environment, machine] : machines_) {
    if (IsTerminal(machine->state().phase)) continue;
    const PromotionPhase before = machine->state().phase;
    if (Status s = machine->Advance(); !s.ok()) {
      logger_->warn("promotion {} in {}: {}", machine->state().id, environment, s.ToString());
    }
    if (machine->state().phase != before) {
      logger_->info("promotion {} in {}: {} -> {} ({})", machine->state().id, environment,
                    ToString(before), ToString(machine->state().phase), machine->state().reason);
    }
  }
}

}  // namespace edgefarm::coordinator
