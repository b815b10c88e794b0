// Scheduler: job state machine, ready queues, leases and retries. The worker message handlers
// live in worker_session.cc.
//
// Implementation notes:
// - Changes are tracked as dirty ids and written by a cut (scheduler_commit.cc), so a job touched
//   ten times in a tick is written once, in one transaction.
// - Ready queues are keyed by tag class (the required tags in canonical form). All jobs of a class
//   need the same tags, so when the head of a queue finds no free matching slot nothing behind it
//   can either, and that class is skipped for the rest of the tick. Across classes the oldest
//   head goes first, so a worker that serves several classes takes jobs in submission order.
// - Queue entries are removed lazily: an id whose job is no longer `queued` is skipped.
#include "edgefarm/coordinator/scheduler.h"

#include <fmt/format.h>

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
      logger_(std::move(logger)),
      run_id_seq_(static_cast<uint32_t>(std::stoul(RandomHex(3), nullptr, 16))) {}

// "run-" + 11 hex digits of the Unix millisecond + 5 of a sequence that starts at random, so ids
// sort by creation time. Every b-tree keyed by a run or job id (runs, jobs, jobs_by_run, attempts)
// then grows at its right edge, and a commit dirties the last leaf of each rather than a random
// one per run. Runs created in one millisecond differ in the sequence. A restart within the same
// millisecond, or a clock stepped back, starts a new sequence over old milliseconds, so an id is
// also checked against the finished runs in the store (one primary-key lookup).
Result<std::string> Scheduler::NewRunId() {
  while (true) {
    const auto ms = static_cast<uint64_t>(clock_->UnixMillis()) & 0xFFFFFFFFFFFull;
    std::string id = fmt::format("run-{:011x}{:05x}", ms, run_id_seq_++ & 0xFFFFFu);
    if (runs_.count(id)) continue;
    EF_ASSIGN_OR_RETURN(std::optional<RunBundle> stored, store_->LoadRun(id));
    if (!stored.has_value()) return id;
  }
}

void Scheduler::AddEvent(const std::string& kind, const std::string& subject, std::string detail) {
  pending_.events.push_back({0, clock_->UnixMillis(), kind, subject, std::move(detail)});
}

void Scheduler::Restore(const StoreSnapshot& snapshot) {
  const auto now = clock_->SteadyNow();
  for (const auto& run : snapshot.runs) runs_[run.id] = run;
  for (const auto& job : snapshot.jobs) {
    jobs_[job.id] = job;
    run_jobs_[job.run_id].push_back(job.id);
    CountState(jobs_[job.id], std::nullopt);
  }
  for (const auto& [run_id, ids] : run_jobs_) IndexNeeds(run_id);
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
    auto job = jobs_.find(attempt.job_id);
    if (job != jobs_.end()) {
      StartLease(attempt, job->second, /*restored=*/true);
      running_by_run_[job->second.run_id] += 1;
    }
    auto w = workers_.find(attempt.worker_id);
    if (w != workers_.end()) w->second.running.insert(attempt.job_id);
  }
  RestoreGroups(snapshot);
  for (const auto& stored : snapshot.jobs) {  // by run, then seq: the queues keep that order
    JobRecord& job = jobs_[stored.id];
    if (job.state == JobState::kQueued || job.state == JobState::kUnschedulable) Enqueue(job);
  }
  for (const auto& [run_id, ids] : run_jobs_) PromoteWaiting(run_id);
  logger_->info("restored {} runs, {} jobs, {} active attempts, {} workers", runs_.size(),
                jobs_.size(), leases_.size(), workers_.size());
}

Result<std::string> Scheduler::SubmitRun(PlannedRun planned) {
  EF_ASSIGN_OR_RETURN(std::string run_id, StageRun(std::move(planned)));
  EF_RETURN_IF_ERROR(Flush());
  return run_id;
}

Result<std::string> Scheduler::StageRun(PlannedRun planned) {
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
  EF_RETURN_IF_ERROR(CheckGroupQueues(planned.jobs));
  EF_RETURN_IF_ERROR(Admit(planned));
  RunRecord run;
  EF_ASSIGN_OR_RETURN(run.id, NewRunId());
  run.name = planned.name;
  run.pipeline_file = planned.pipeline_file;
  run.pipeline_yaml = std::move(planned.pipeline_yaml);
  run.files = std::move(planned.files);
  run.priority = planned.priority;
  run.max_running = std::max(planned.max_running, 0);
  run.repository = planned.repository;
  run.created_at_ms = clock_->UnixMillis();
  runs_[run.id] = run;
  dirty_runs_.insert(run.id);
  new_runs_.insert(run.id);
  AddEvent("run.created", run.id, json{{"jobs", planned.jobs.size()}}.dump());
  int seq = 0;
  for (auto& job : planned.jobs) {
    job.id = run.id + "-" + std::to_string(seq);
    job.run_id = run.id;
    job.seq = seq++;
    job.state = JobState::kWaiting;
    job.created_at_ms = run.created_at_ms;
    run_jobs_[run.id].push_back(job.id);
    new_jobs_.insert(job.id);
    const std::string id = job.id;
    jobs_[id] = std::move(job);
    CountState(jobs_[id], std::nullopt);
    JoinGroup(jobs_[id]);
  }
  IndexNeeds(run.id);
  PromoteWaiting(run.id);
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
  const JobState before = job.state;
  job.state = state;
  CountState(job, before);
  if (IsTerminal(state)) {
    job.finished_at_ms = clock_->UnixMillis();
    unschedulable_.erase(job.id);
    if (!job.resource_group.empty()) LeaveGroup(job);
  }
  // A job created in this flush is written whole with its state: no event for how it got there.
  if (new_jobs_.count(job.id)) return;
  // Hand-built (this runs several times per job): the attempt and its worker are part of the
  // job's transitions into assigned, running and succeeded, so no separate attempt events are
  // written for those.
  std::string detail = fmt::format(R"({{"from":"{}","to":"{}")", ToString(before), ToString(state));
  if (state == JobState::kAssigned || state == JobState::kRunning ||
      state == JobState::kSucceeded) {
    detail += fmt::format(R"(,"attempt":{},"worker":{})", job.attempt, json(job.worker_id).dump());
  }
  if (!reason.empty()) detail += R"(,"reason":)" + json(reason).dump();
  detail += "}";
  AddEvent("job.state", job.id, std::move(detail));
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
    unschedulable_.erase(job.id);
    job.missing_tags.clear();
    SetJobState(job, JobState::kQueued);
    // A job behind another of its resource group waits in the group (scheduler_groups.cc).
    if (HoldsGroup(job)) MakeReady(job);
    return;
  }
  std::string reason = "no registered worker offers " + Join(missing);
  if (job.state != JobState::kUnschedulable || job.missing_tags != missing) {
    logger_->info("job {} ({}) is unschedulable: {}", job.id, job.name, reason);
  }
  job.missing_tags = std::move(missing);
  unschedulable_.emplace(job.id, clock_->SteadyNow());  // keeps the first time
  SetJobState(job, JobState::kUnschedulable, reason);
}

void Scheduler::MakeReady(const JobRecord& job) {
  ready_[TagClass(job.required_tags)][job.run_id].push_back(job.id);
}

void Scheduler::ReevaluateUnschedulable() {
  std::vector<std::string> ids;
  for (const auto& [id, since] : unschedulable_) ids.push_back(id);
  for (const auto& id : ids) {
    auto job = jobs_.find(id);
    if (job != jobs_.end() && job->second.state == JobState::kUnschedulable) Enqueue(job->second);
  }
}

namespace {

// Heap order for WorkerSlot: most free slots on top, then the smaller worker id (as a scan of the
// id-ordered worker map that keeps the first maximum would pick).
template <typename Slot>
bool FewerFree(const Slot& a, const Slot& b) {
  if (a.free != b.free) return a.free < b.free;
  return a.rank > b.rank;
}

}  // namespace

std::vector<Scheduler::WorkerSlot> Scheduler::MatchingWorkers(const Tags& required) {
  std::vector<WorkerSlot> heap;
  size_t rank = 0;  // workers_ is ordered by id
  for (auto& [id, worker] : workers_) {
    ++rank;
    if (worker.record.state != WorkerState::kLive || !worker.connected) continue;
    if (worker.running.size() >= worker.record.slots) continue;
    if (!pipelines::MissingTags(required, worker.record.tags).empty()) continue;
    heap.push_back({worker.record.slots - worker.running.size(), rank, &worker});
  }
  std::make_heap(heap.begin(), heap.end(), FewerFree<WorkerSlot>);
  return heap;
}

// The matching worker with the most free slots, or nullptr. Takes it off the heap; the caller's
// assignment then changes its free count, so it is pushed back by the next pick if still free.
Scheduler::WorkerSession* Scheduler::PickWorker(std::vector<WorkerSlot>& heap) {
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), FewerFree<WorkerSlot>);
    WorkerSlot top = heap.back();
    heap.pop_back();
    const WorkerSession& w = *top.worker;
    const size_t free = w.running.size() >= w.record.slots ? 0 : w.record.slots - w.running.size();
    if (free == 0) continue;
    if (free != top.free) {  // used through another class meanwhile: re-rank
      heap.push_back({free, top.rank, top.worker});
      std::push_heap(heap.begin(), heap.end(), FewerFree<WorkerSlot>);
      continue;
    }
    if (free > 1) {  // after this assignment it has free - 1
      heap.push_back({free - 1, top.rank, top.worker});
      std::push_heap(heap.begin(), heap.end(), FewerFree<WorkerSlot>);
    }
    return top.worker;
  }
  return nullptr;
}

// Higher priority first; then the run with fewer jobs running (so runs share matching workers);
// then the older run.
bool Scheduler::Before(const RunRecord& a, const RunRecord& b) const {
  if (a.priority != b.priority) return a.priority > b.priority;
  auto ra = running_by_run_.find(a.id);
  auto rb = running_by_run_.find(b.id);
  const int na = ra == running_by_run_.end() ? 0 : ra->second;
  const int nb = rb == running_by_run_.end() ? 0 : rb->second;
  if (na != nb) return na < nb;
  if (a.created_at_ms != b.created_at_ms) return a.created_at_ms < b.created_at_ms;
  return a.id < b.id;
}

// One pass. Per class, the runs with queued jobs form a heap (best first by Before), built when
// the class is first looked at, so a pick costs O(log runs) rather than a scan of every run.
// Only the picked run's key changes (its running count), and it is re-inserted after the pick;
// a run that also has jobs in another class may carry a slightly stale key there (fairness is
// approximate across classes, never wrong about caps: they are re-checked at each pick).
void Scheduler::Schedule() {
  struct Candidate {
    const RunRecord* run;
    std::deque<std::string>* queue;
  };
  struct ClassHeap {
    bool built = false;
    bool blocked = false;  // its best head found no free matching slot
    std::vector<Candidate> heap;
    bool workers_built = false;
    std::vector<WorkerSlot> workers;
  };
  auto worse = [this](const Candidate& a, const Candidate& b) { return Before(*b.run, *a.run); };
  auto eligible = [this](Candidate& c) {
    while (!c.queue->empty()) {  // entries are removed lazily
      auto it = jobs_.find(c.queue->front());
      if (it != jobs_.end() && it->second.state == JobState::kQueued) break;
      c.queue->pop_front();
    }
    if (c.queue->empty()) return false;
    auto running = running_by_run_.find(c.run->id);
    return c.run->max_running <= 0 || running == running_by_run_.end() ||
           running->second < c.run->max_running;
  };
  std::map<std::string, ClassHeap> classes;
  while (true) {
    ClassHeap* best = nullptr;
    for (auto& [cls, runs] : ready_) {
      ClassHeap& h = classes[cls];
      if (h.blocked) continue;
      if (!h.built) {
        h.built = true;
        for (auto& [run_id, queue] : runs) {
          auto run = runs_.find(run_id);
          Candidate c{run == runs_.end() ? nullptr : &run->second, &queue};
          if (c.run != nullptr && eligible(c)) h.heap.push_back(c);
        }
        std::make_heap(h.heap.begin(), h.heap.end(), worse);
      }
      if (h.heap.empty()) continue;
      if (best == nullptr) {
        best = &h;
        continue;
      }
      const Candidate& top = h.heap.front();
      const Candidate& cur = best->heap.front();
      // One run's jobs in several classes go in pipeline order.
      const bool earlier_in_run =
          top.run == cur.run && jobs_[top.queue->front()].seq < jobs_[cur.queue->front()].seq;
      if (Before(*top.run, *cur.run) || earlier_in_run) best = &h;
    }
    if (best == nullptr) break;
    std::pop_heap(best->heap.begin(), best->heap.end(), worse);
    Candidate c = best->heap.back();
    best->heap.pop_back();
    if (!eligible(c)) continue;  // capped meanwhile through another class
    JobRecord& next = jobs_[c.queue->front()];
    if (!best->workers_built) {
      best->workers = MatchingWorkers(next.required_tags);
      best->workers_built = true;
    }
    WorkerSession* worker = PickWorker(best->workers);
    if (worker == nullptr && MissingForBestWorker(next.required_tags).empty()) {
      best->blocked = true;  // matching slots are all busy
      continue;
    }
    c.queue->pop_front();
    if (worker == nullptr) {
      Enqueue(next);  // no registered worker offers the tags any more: unschedulable
    } else {
      AssignTo(next, *worker);
    }
    if (eligible(c)) {
      best->heap.push_back(c);
      std::push_heap(best->heap.begin(), best->heap.end(), worse);
    }
  }
  for (auto& [cls, runs] : ready_) {
    std::erase_if(runs, [](const auto& entry) { return entry.second.empty(); });
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
  StartLease(attempt, job, /*restored=*/false, token);
  job.worker_id = worker.record.id;
  SetJobState(job, JobState::kAssigned);
  worker.running.insert(job.id);
  running_by_run_[job.run_id] += 1;

  v1::Envelope env;
  v1::Assign* assign = env.mutable_assign();
  assign->set_job_id(job.id);
  assign->set_attempt(job.attempt);
  assign->set_lease_token(token);
  // 0 = no deadline (a job without a timeout, e.g. a model server slot).
  if (job.timeout_seconds > 0) {
    assign->set_deadline_unix_ms(clock_->UnixMillis() + int64_t{job.timeout_seconds} * 1000);
  }
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
  // Debug: at farm rates one line per assignment would cost more than the assignment (the
  // job.state event records it durably).
  logger_->debug("assigning {} ({}) attempt {} to worker {}", job.id, job.name, job.attempt,
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
  if (--running_by_run_[job.run_id] <= 0) running_by_run_.erase(job.run_id);
  auto w = workers_.find(attempt.worker_id);
  if (w != workers_.end()) w->second.running.erase(job.id);
  if (outcome == "succeeded") return;  // the job's transition to succeeded records it
  std::string detail = fmt::format(R"({{"attempt":{},"outcome":"{}")", attempt.attempt, outcome);
  if (!reason.empty()) detail += R"(,"reason":)" + json(reason).dump();
  AddEvent("attempt.finished", job.id, detail + "}");
}

void Scheduler::InfraFailure(JobRecord& job, AttemptRecord& attempt, const std::string& reason) {
  logger_->warn("job {} attempt {}: infrastructure failure: {}", job.id, attempt.attempt, reason);
  EndAttempt(job, attempt, "infra_error", reason);
  job.infra_failures += 1;
  if (job.infra_failures > job.retry_infra) {
    SetJobState(
        job, JobState::kFailed,
        "infrastructure failure (" + std::to_string(job.infra_failures) + " attempts): " + reason);
    PromoteDependents(job);
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
  PromoteDependents(job);
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
