#include "edgefarm/coordinator/records.h"

#include <array>
#include <utility>

#include "edgefarm/coordinator/store.h"

namespace edgefarm::coordinator {
namespace {

template <typename E, size_t N>
Result<E> ParseFrom(const std::array<std::pair<E, std::string_view>, N>& table,
                    std::string_view text, std::string_view what) {
  for (const auto& [value, name] : table) {
    if (name == text) return value;
  }
  return InvalidArgument("unknown " + std::string(what) + " '" + std::string(text) + "'");
}

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<RunState, std::string_view>, 5> kRunStates{{
    {RunState::kQueued, "queued"},
    {RunState::kRunning, "running"},
    {RunState::kSucceeded, "succeeded"},
    {RunState::kFailed, "failed"},
    {RunState::kCancelled, "cancelled"},
}};
constexpr std::array<std::pair<JobState, std::string_view>, 9> kJobStates{{
    {JobState::kWaiting, "waiting"},
    {JobState::kQueued, "queued"},
    {JobState::kUnschedulable, "unschedulable"},
    {JobState::kAssigned, "assigned"},
    {JobState::kRunning, "running"},
    {JobState::kSucceeded, "succeeded"},
    {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
    {JobState::kSkipped, "skipped"},
}};
constexpr std::array<std::pair<AttemptState, std::string_view>, 3> kAttemptStates{{
    {AttemptState::kAssigned, "assigned"},
    {AttemptState::kRunning, "running"},
    {AttemptState::kFinished, "finished"},
}};
constexpr std::array<std::pair<WorkerState, std::string_view>, 3> kWorkerStates{{
    {WorkerState::kLive, "live"},
    {WorkerState::kLost, "lost"},
    {WorkerState::kDraining, "draining"},
}};

template <typename T>
void Append(std::vector<T>& to, std::vector<T>&& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

std::string_view ToString(RunState state) {
  return NameOf(kRunStates, state);
}
std::string_view ToString(JobState state) {
  return NameOf(kJobStates, state);
}
std::string_view ToString(AttemptState state) {
  return NameOf(kAttemptStates, state);
}
std::string_view ToString(WorkerState state) {
  return NameOf(kWorkerStates, state);
}
Result<RunState> ParseRunState(std::string_view t) {
  return ParseFrom(kRunStates, t, "run state");
}
Result<JobState> ParseJobState(std::string_view t) {
  return ParseFrom(kJobStates, t, "job state");
}
Result<AttemptState> ParseAttemptState(std::string_view t) {
  return ParseFrom(kAttemptStates, t, "attempt state");
}
Result<WorkerState> ParseWorkerState(std::string_view t) {
  return ParseFrom(kWorkerStates, t, "worker state");
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled || state == JobState::kSkipped;
}

JobProgress ProgressOf(const JobRecord& job) {
  return {job.id,           job.state,     job.missing_tags, job.attempt,   job.infra_failures,
          job.job_failures, job.worker_id, job.result_json,  job.artifacts, job.finished_at_ms};
}

void ChangeSet::Merge(ChangeSet other) {
  Append(runs, std::move(other.runs));
  Append(run_states, std::move(other.run_states));
  Append(jobs, std::move(other.jobs));
  Append(job_progress, std::move(other.job_progress));
  Append(attempts, std::move(other.attempts));
  Append(workers, std::move(other.workers));
  Append(blobs, std::move(other.blobs));
  Append(tokens, std::move(other.tokens));
  Append(events, std::move(other.events));
}

}  // namespace edgefarm::coordinator
