// Scheduler: job state machine, ready queues, leases and retries. The worker message handlers
// live in worker_session.cc.
//
// Implementation notes:
// - Changes are tracked as dirty ids; Flush() snapshots the current rows of those ids into one
//   ChangeSet, so a job touched ten times in a tick is written once, in one transaction.
// - Ready queues are keyed by tag class (the required tags in canonical form). All jobs of a class
//   need the same tags, so when the head of a queue finds no free matching slot nothing behind it
//   can either, and that class is skipped for the rest of the tick. Across classes the oldest
//   head goes first, so a worker that serves several classes takes jobs in submission order.
// - Queue entries are removed lazily: an id whose job is no longer `queued` is skipped.
#include "edgefarm/coordinator/scheduler.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "edgefarm/common/sha256.h"
#include "edgefarm/pipelines/expand.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

std::string TagClass(const Tags& tags) {
  std::string out;
  for (const auto& [k, v] : tags) out += k + "=" + v + ";";
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, Store* store, const BlobStore* blobs, LogStore* logs,
                     const Clock* clock, std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      store_(store),
      blobs_(blobs),
      logs_(logs),
      clock_(clock),
      logger_(std::move(logger)) {}

void Scheduler::AddEvent(const std::string& kind, const std::string& subject,
                         const std::string& detail) {
  pending_.events.push_back({0, clock_->UnixMillis(), kind, subject, detail});
}

void Scheduler::Restore(const StoreSnapshot& snapshot) {
  const auto now = clock_->SteadyNow();
  for (const auto& run : snapshot.runs) runs_[run.id] = run;
  for (const auto& job : snapshot.jobs) {
    jobs_[job.id] = job;
    run_jobs_[job.run_id].push_back(job.id);
  }
  for (const auto& worker : snapshot.workers) {
    WorkerSession& s = workers_[worker.id];
    s.record = worker;
    // A worker that was live gets the restart grace to reconnect before it counts as lost.
    s.lost_after = now + options_.restart_grace;
    s.connected = false;
  }
  for (const auto& attempt : snapshot.attempts) {
    auto key = std::make_pair(attempt.job_id, attempt.attempt);
    attempts_[key] = attempt;
    if (attempt.state == AttemptState::kFinished) continue;
    leases_[key].deadline = now + options_.restart_grace;
    auto w = workers_.find(attempt.worker_id);
    if (w != workers_.end()) w->second.running.insert(attempt.job_id);
  }
  for (auto& [id, job] : jobs_) {
    if (job.state == JobState::kQueued || job.state == JobState::kUnschedulable) Enqueue(job);
  }
  for (const auto& [run_id, ids] : run_jobs_) PromoteWaiting(run_id);
  logger_->info("restored {} runs, {} jobs, {} active attempts, {} workers", runs_.size(),
                jobs_.size(), leases_.size(), workers_.size());
}

Result<std::string> Scheduler::SubmitRun(PlannedRun planned) {
  std::set<std::string> names;
  for (const auto& job : planned.jobs) {
    if (!names.insert(job.name).second) {
      return InvalidArgument("two jobs are named '" + job.name + "'");
    }
  }
  for (const auto& job : planned.jobs) {
    for (const auto& need : job.needs) {
      if (!names.count(need)) {
        return InvalidArgument("job '" + job.name + "' needs unknown job '" + need + "'");
      }
    }
  }
  RunRecord run;
  run.id = "run-" + RandomHex(8);
  run.name = planned.name;
  run.pipeline_file = planned.pipeline_file;
  run.pipeline_yaml = std::move(planned.pipeline_yaml);
  run.files = std::move(planned.files);
  run.created_at_ms = clock_->UnixMillis();
  runs_[run.id] = run;
  dirty_runs_.insert(run.id);
  AddEvent("run.created", run.id, json{{"jobs", planned.jobs.size()}}.dump());
  int seq = 0;
  for (auto& job : planned.jobs) {
    job.id = run.id + "-" + std::to_string(seq);
    job.run_id = run.id;
    job.seq = seq++;
    job.state = JobState::kWaiting;
    job.created_at_ms = run.created_at_ms;
    run_jobs_[run.id].push_back(job.id);
    dirty_jobs_.insert(job.id);
    jobs_[job.id] = std::move(job);
  }
  PromoteWaiting(run.id);
  EF_RETURN_IF_ERROR(Flush());
  return run.id;
}

void Scheduler::RecordBlob(const std::string& digest, uint64_t size) {
  pending_.blobs.push_back({digest, size, clock_->UnixMillis()});
  AddEvent("blob.stored", digest, json{{"size", size}}.dump());
}

void Scheduler::SetJobState(JobRecord& job, JobState state, const std::string& reason) {
  dirty_jobs_.insert(job.id);
  dirty_runs_.insert(job.run_id);
  if (job.state == state) return;
  AddEvent("job.state", job.id,
           json{{"from", ToString(job.state)}, {"to", ToString(state)}, {"reason", reason}}.dump());
  job.state = state;
  if (IsTerminal(state)) job.finished_at_ms = clock_->UnixMillis();
}

// Draining workers take no new jobs, so they do not make a job schedulable.
bool Scheduler::IsRegistered(const WorkerSession& worker) const {
  return worker.record.state == WorkerState::kLive;
}

std::vector<std::string> Scheduler::MissingForBestWorker(const Tags& required) const {
  std::vector<std::string> best;
  bool any = false;
  for (const auto& [id, worker] : workers_) {
    if (!IsRegistered(worker)) continue;
    auto missing = pipelines::MissingTags(required, worker.record.tags);
    if (missing.empty()) return {};
    if (!any || missing.size() < best.size()) best = std::move(missing);
    any = true;
  }
  if (!any) {
    for (const auto& [k, v] : required) best.push_back(k + "=" + v);
  }
  return best;
}

void Scheduler::Enqueue(JobRecord& job) {
  auto missing = MissingForBestWorker(job.required_tags);
  dirty_jobs_.insert(job.id);
  if (missing.empty()) {
    job.missing_tags.clear();
    SetJobState(job, JobState::kQueued);
    ready_[TagClass(job.required_tags)].push_back(job.id);
    return;
  }
  std::string reason = "no registered worker offers " + Join(missing);
  if (job.state != JobState::kUnschedulable || job.missing_tags != missing) {
    logger_->info("job {} ({}) is unschedulable: {}", job.id, job.name, reason);
  }
  job.missing_tags = std::move(missing);
  SetJobState(job, JobState::kUnschedulable, reason);
}

void Scheduler::PromoteWaiting(const std::string& run_id) {
  auto ids = run_jobs_.find(run_id);
  if (ids == run_jobs_.end()) return;
  std::map<std::string, JobRecord*> by_name;
  for (const auto& id : ids->second) by_name[jobs_[id].name] = &jobs_[id];
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [name, job] : by_name) {
      if (job->state != JobState::kWaiting) continue;
      bool ready = true;
      std::string failed_need;
      for (const auto& need : job->needs) {
        auto it = by_name.find(need);
        JobState s = it == by_name.end() ? JobState::kFailed : it->second->state;
        if (s != JobState::kSucceeded) ready = false;
        if (IsTerminal(s) && s != JobState::kSucceeded) failed_need = need;
      }
      if (!failed_need.empty()) {
        SetJobState(*job, JobState::kSkipped, "need '" + failed_need + "' did not succeed");
        changed = true;
      } else if (ready) {
        Enqueue(*job);
      }
    }
  }
}

void Scheduler::ReevaluateUnschedulable() {
  for (auto& [id, job] : jobs_) {
    if (job.state == JobState::kUnschedulable) Enqueue(job);
  }
}

Scheduler::WorkerSession* Scheduler::PickWorker(const JobRecord& job) {
  WorkerSession* best = nullptr;
  size_t best_free = 0;
  for (auto& [id, worker] : workers_) {
    if (worker.record.state != WorkerState::kLive || !worker.connected) continue;
    if (worker.running.size() >= worker.record.slots) continue;
    if (!pipelines::MissingTags(job.required_tags, worker.record.tags).empty()) continue;
    size_t free = worker.record.slots - worker.running.size();
    if (free > best_free) {
      best = &worker;
      best_free = free;
    }
  }
  return best;
}

// Oldest run first, then pipeline order: the order in which jobs were queued originally.
bool Scheduler::Earlier(const JobRecord& a, const JobRecord& b) const {
  auto ra = runs_.find(a.run_id);
  auto rb = runs_.find(b.run_id);
  const int64_t ta = ra == runs_.end() ? a.created_at_ms : ra->second.created_at_ms;
  const int64_t tb = rb == runs_.end() ? b.created_at_ms : rb->second.created_at_ms;
  if (ta != tb) return ta < tb;
  if (a.run_id != b.run_id) return a.run_id < b.run_id;
  return a.seq < b.seq;
}

void Scheduler::Schedule() {
  // Classes whose head found no free matching slot: nothing behind that head can do better.
  std::set<std::string> blocked;
  while (true) {
    JobRecord* next = nullptr;
    std::deque<std::string>* next_queue = nullptr;
    for (auto& [cls, queue] : ready_) {
      if (blocked.count(cls)) continue;
      while (!queue.empty()) {
        auto it = jobs_.find(queue.front());
        if (it != jobs_.end() && it->second.state == JobState::kQueued) break;
        queue.pop_front();
      }
      if (queue.empty()) continue;
      JobRecord& head = jobs_[queue.front()];
      if (next == nullptr || Earlier(head, *next)) {
        next = &head;
        next_queue = &queue;
      }
    }
    if (next == nullptr) break;
    WorkerSession* worker = PickWorker(*next);
    if (worker == nullptr && MissingForBestWorker(next->required_tags).empty()) {
      blocked.insert(TagClass(next->required_tags));  // matching slots are all busy
      continue;
    }
    next_queue->pop_front();
    if (worker == nullptr) {
      Enqueue(*next);  // no registered worker offers the tags any more: unschedulable
    } else {
      AssignTo(*next, *worker);
    }
  }
  std::erase_if(ready_, [](const auto& entry) { return entry.second.empty(); });
}

void Scheduler::AssignTo(JobRecord& job, WorkerSession& worker) {
  const std::string token = RandomHex(16);
  job.attempt += 1;
  AttemptRecord attempt;
  attempt.job_id = job.id;
  attempt.attempt = job.attempt;
  attempt.worker_id = worker.record.id;
  attempt.lease_hash = Sha256Hex(token);
  attempt.started_at_ms = clock_->UnixMillis();
  const auto key = std::make_pair(job.id, job.attempt);
  attempts_[key] = attempt;
  dirty_attempts_.insert(key);
  leases_[key].deadline = clock_->SteadyNow() + options_.lease_ttl;
  job.worker_id = worker.record.id;
  SetJobState(job, JobState::kAssigned, "worker " + worker.record.id);
  worker.running.insert(job.id);
  AddEvent("attempt.assigned", job.id,
           json{{"attempt", job.attempt}, {"worker", worker.record.id}}.dump());

  v1::Envelope env;
  v1::Assign* assign = env.mutable_assign();
  assign->set_job_id(job.id);
  assign->set_attempt(job.attempt);
  assign->set_lease_token(token);
  assign->set_deadline_unix_ms(clock_->UnixMillis() + int64_t{job.timeout_seconds} * 1000);
  v1::JobSpec* spec = assign->mutable_spec();
  spec->set_run_id(job.run_id);
  spec->set_job_id(job.id);
  spec->set_name(job.name);
  spec->set_timeout_seconds(static_cast<uint32_t>(std::max(job.timeout_seconds, 0)));
  if (job.is_engine) {
    spec->mutable_engine()->set_framework(job.framework);
    spec->mutable_engine()->set_target(job.target);
    spec->mutable_engine()->set_job_json(job.engine_job_json);
  } else {
    for (const auto& arg : job.argv) spec->mutable_command()->add_argv(arg);
    for (const auto& [k, v] : job.env) (*spec->mutable_command()->mutable_env())[k] = v;
  }
  for (const auto& input : job.inputs) {
    v1::InputFile* file = spec->add_inputs();
    file->set_name(input.name);
    file->set_digest(input.digest);
    file->set_size(input.size);
  }
  logger_->info("assigning {} ({}) attempt {} to worker {}", job.id, job.name, job.attempt,
                worker.record.id);
  Send(worker.record.id, std::move(env));
}

AttemptRecord* Scheduler::CurrentAttempt(const JobRecord& job) {
  auto it = attempts_.find({job.id, job.attempt});
  return it == attempts_.end() ? nullptr : &it->second;
}

void Scheduler::EndAttempt(JobRecord& job, AttemptRecord& attempt, const std::string& outcome,
                           const std::string& reason) {
  const auto key = std::make_pair(attempt.job_id, attempt.attempt);
  attempt.state = AttemptState::kFinished;
  attempt.outcome = outcome;
  attempt.reason = reason;
  attempt.finished_at_ms = clock_->UnixMillis();
  dirty_attempts_.insert(key);
  leases_.erase(key);
  auto w = workers_.find(attempt.worker_id);
  if (w != workers_.end()) w->second.running.erase(job.id);
  AddEvent("attempt.finished", job.id,
           json{{"attempt", attempt.attempt}, {"outcome", outcome}, {"reason", reason}}.dump());
}

void Scheduler::InfraFailure(JobRecord& job, AttemptRecord& attempt, const std::string& reason) {
  logger_->warn("job {} attempt {}: infrastructure failure: {}", job.id, attempt.attempt, reason);
  EndAttempt(job, attempt, "infra_error", reason);
  job.infra_failures += 1;
  if (job.infra_failures > job.retry_infra) {
    SetJobState(
        job, JobState::kFailed,
        "infrastructure failure (" + std::to_string(job.infra_failures) + " attempts): " + reason);
    PromoteWaiting(job.run_id);
    return;
  }
  Enqueue(job);
}

void Scheduler::JobFailure(JobRecord& job, AttemptRecord& attempt, const std::string& outcome,
                           const std::string& reason) {
  EndAttempt(job, attempt, outcome, reason);
  job.job_failures += 1;
  if (job.job_failures <= job.retry_job) {
    Enqueue(job);
    return;
  }
  SetJobState(job, JobState::kFailed, reason);
  PromoteWaiting(job.run_id);
}

void Scheduler::MarkWorkerLost(WorkerSession& worker, const std::string& reason) {
  // A goodbye is an orderly shutdown, not an incident.
  logger_->log(reason == kGoodbyeReason ? spdlog::level::info : spdlog::level::warn,
               "worker {} lost: {}", worker.record.id, reason);
  worker.record.state = WorkerState::kLost;
  dirty_workers_.insert(worker.record.id);
  AddEvent("worker.lost", worker.record.id, json{{"reason", reason}}.dump());
  const std::set<std::string> running = worker.running;
  for (const auto& job_id : running) {
    JobRecord& job = jobs_[job_id];
    AttemptRecord* attempt = CurrentAttempt(job);
    if (attempt != nullptr && attempt->state != AttemptState::kFinished) {
      InfraFailure(job, *attempt, "worker " + worker.record.id + " lost: " + reason);
    }
  }
  worker.running.clear();
}

Status Scheduler::CancelRun(const std::string& run_id) {
  if (runs_.find(run_id) == runs_.end()) return NotFound("no run " + run_id);
  for (const auto& id : run_jobs_[run_id]) {
    JobRecord& job = jobs_[id];
    if (IsTerminal(job.state)) continue;
    AttemptRecord* attempt = CurrentAttempt(job);
    if (attempt != nullptr && attempt->state != AttemptState::kFinished) {
      const std::string worker = attempt->worker_id;
      EndAttempt(job, *attempt, "cancelled", "run cancelled");
      v1::Envelope env;
      env.mutable_cancel()->set_job_id(job.id);
      env.mutable_cancel()->set_attempt(job.attempt);
      env.mutable_cancel()->set_reason("run cancelled");
      Send(worker, std::move(env));
    }
    SetJobState(job, JobState::kCancelled, "run cancelled");
  }
  AddEvent("run.cancel_requested", run_id, "{}");
  return Flush();
}

Status Scheduler::DrainWorker(const std::string& worker_id) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return NotFound("no worker " + worker_id);
  WorkerSession& worker = it->second;
  if (worker.record.state == WorkerState::kLost) {
    return FailedPrecondition("worker " + worker_id + " is lost");
  }
  if (worker.record.state != WorkerState::kDraining) {
    worker.record.state = WorkerState::kDraining;
    dirty_workers_.insert(worker_id);
    AddEvent("worker.draining", worker_id, "{}");
    v1::Envelope env;
    env.mutable_drain();
    Send(worker_id, std::move(env));
  }
  return Flush();
}

void Scheduler::Tick() {
  const auto now = clock_->SteadyNow();
  for (auto& [id, worker] : workers_) {
    if (worker.record.state != WorkerState::kLost && now > worker.lost_after) {
      MarkWorkerLost(worker, "missed heartbeats");
    }
  }
  std::vector<std::pair<std::string, uint32_t>> expired;
  for (const auto& [key, lease] : leases_) {
    if (now > lease.deadline) expired.push_back(key);
  }
  for (const auto& key : expired) {
    auto job = jobs_.find(key.first);
    auto attempt = attempts_.find(key);
    if (job == jobs_.end() || attempt == attempts_.end()) {
      leases_.erase(key);
      continue;
    }
    InfraFailure(job->second, attempt->second, "lease expired");
  }
  Schedule();
}

void Scheduler::DeriveRunStates() {
  for (const auto& run_id : dirty_runs_) {
    auto run = runs_.find(run_id);
    if (run == runs_.end()) continue;
    bool all_terminal = true, any_started = false, any_failed = false, any_cancelled = false;
    for (const auto& id : run_jobs_[run_id]) {
      JobState s = jobs_[id].state;
      all_terminal = all_terminal && IsTerminal(s);
      any_started = any_started || IsTerminal(s) || s == JobState::kAssigned ||
                    s == JobState::kRunning || jobs_[id].attempt > 0;
      any_failed = any_failed || s == JobState::kFailed;
      any_cancelled = any_cancelled || s == JobState::kCancelled;
    }
    RunState next = RunState::kQueued;
    if (all_terminal) {
      next = any_failed      ? RunState::kFailed
             : any_cancelled ? RunState::kCancelled
                             : RunState::kSucceeded;
    } else if (any_started) {
      next = RunState::kRunning;
    }
    if (next == run->second.state) continue;
    AddEvent("run.state", run_id,
             json{{"from", ToString(run->second.state)}, {"to", ToString(next)}}.dump());
    run->second.state = next;
    run->second.finished_at_ms = all_terminal ? clock_->UnixMillis() : 0;
  }
}

Status Scheduler::Flush() {
  DeriveRunStates();
  ChangeSet changes = std::move(pending_);
  pending_ = ChangeSet();
  for (const auto& id : dirty_runs_) changes.runs.push_back(runs_[id]);
  for (const auto& id : dirty_jobs_) changes.jobs.push_back(jobs_[id]);
  for (const auto& key : dirty_attempts_) changes.attempts.push_back(attempts_[key]);
  for (const auto& id : dirty_workers_) changes.workers.push_back(workers_[id].record);
  dirty_runs_.clear();
  dirty_jobs_.clear();
  dirty_attempts_.clear();
  dirty_workers_.clear();
  if (changes.empty() && staged_.empty()) return Status::Ok();
  Status s = store_->Commit(changes);
  if (!s.ok()) {
    // Keep everything for the next Flush; the staged acknowledgements stay unsent until then.
    logger_->error("cannot commit coordinator state: {}", s.ToString());
    changes.Merge(std::move(pending_));
    pending_ = std::move(changes);
    return s;
  }
  for (auto& out : staged_) outbox_.push_back(std::move(out));
  staged_.clear();
  return Status::Ok();
}

std::vector<Outbound> Scheduler::TakeOutbox() {
  std::vector<Outbound> out;
  out.swap(outbox_);
  return out;
}

void Scheduler::Send(const std::string& identity, v1::Envelope envelope) {
  staged_.push_back({identity, std::move(envelope)});
}

const RunRecord* Scheduler::FindRun(const std::string& id) const {
  auto it = runs_.find(id);
  return it == runs_.end() ? nullptr : &it->second;
}

const JobRecord* Scheduler::FindJob(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<const RunRecord*> Scheduler::Runs() const {
  std::vector<const RunRecord*> out;
  for (const auto& [id, run] : runs_) out.push_back(&run);
  std::sort(out.begin(), out.end(), [](const RunRecord* a, const RunRecord* b) {
    return a->created_at_ms != b->created_at_ms ? a->created_at_ms > b->created_at_ms
                                                : a->id < b->id;
  });
  return out;
}

std::vector<const JobRecord*> Scheduler::JobsOf(const std::string& run_id) const {
  std::vector<const JobRecord*> out;
  auto ids = run_jobs_.find(run_id);
  if (ids == run_jobs_.end()) return out;
  for (const auto& id : ids->second) out.push_back(&jobs_.at(id));
  return out;
}

std::vector<const AttemptRecord*> Scheduler::AttemptsOf(const std::string& job_id) const {
  std::vector<const AttemptRecord*> out;
  for (auto it = attempts_.lower_bound({job_id, 0});
       it != attempts_.end() && it->first.first == job_id; ++it) {
    out.push_back(&it->second);
  }
  return out;
}

std::vector<WorkerRecord> Scheduler::Workers() const {
  std::vector<WorkerRecord> out;
  for (const auto& [id, worker] : workers_) out.push_back(worker.record);
  return out;
}

size_t Scheduler::RunningCount(const std::string& worker_id) const {
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? 0 : it->second.running.size();
}

}  // namespace edgefarm::coordinator
