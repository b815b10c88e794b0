// The coordinator's durable records: what a run, job, attempt, worker, blob, event and token look
// like in memory and in the store (docs/storage.md describes the sqlite tables they map to).
//
// Plain values; copy freely. States are strings on disk and in the API; the enums below are the
// in-memory form, converted only through the functions declared here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

using Tags = std::map<std::string, std::string>;

enum class RunState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
enum class JobState {
  kWaiting,        // needs not met yet
  kQueued,         // ready, waiting for a worker with free slots
  kUnschedulable,  // no registered worker offers the required tags
  kAssigned,       // an Assign was sent, no Accept yet
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kSkipped,  // a need failed
};
enum class AttemptState { kAssigned, kRunning, kFinished };
enum class WorkerState { kLive, kLost, kDraining };

std::string_view ToString(RunState state);
std::string_view ToString(JobState state);
std::string_view ToString(AttemptState state);
std::string_view ToString(WorkerState state);
Result<RunState> ParseRunState(std::string_view text);
Result<JobState> ParseJobState(std::string_view text);
Result<AttemptState> ParseAttemptState(std::string_view text);
Result<WorkerState> ParseWorkerState(std::string_view text);

bool IsTerminal(JobState state);

struct RunRecord {
  std::string id;
  std::string name;
  RunState state = RunState::kQueued;
  std::string pipeline_file;
  std::string pipeline_yaml;
  std::map<std::string, std::string> files;  // repository path -> sha256
  int64_t created_at_ms = 0;
  int64_t finished_at_ms = 0;  // 0 while not finished
  int priority = 50;           // 0..100; runs with a higher priority are served first
  int max_running = 0;         // most jobs of this run assigned or running at once; 0: no cap
  // The registered repository a trigger started it for; "" for runs submitted directly (they
  // share one admission bucket).
  std::string repository;
};

struct InputRef {
  std::string name;  // role: "model", "eval_text", ...
  std::string digest;
  uint64_t size = 0;
};

struct ArtifactRef {
  std::string name;
  std::string digest;
  uint64_t size = 0;
};

struct JobRecord {
  std::string id;
  std::string run_id;
  int seq = 0;  // position in the run, for stable listing
  std::string name;
  bool is_engine = true;
  std::string framework;
  std::string target;
  JobState state = JobState::kWaiting;
  Tags required_tags;
  std::vector<std::string> missing_tags;
  std::vector<std::string> needs;  // job names within the run
  // What a worker needs to run it.
  std::string engine_job_json;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::vector<InputRef> inputs;
  int timeout_seconds = 3600;
  int retry_infra = 2;
  int retry_job = 0;
  // Pipeline `resource_group`: the unfinished jobs of one group run one at a time across the
  // farm, in submission order. "" for none.
  std::string resource_group;
  // Progress.
  uint32_t attempt = 0;  // number of the latest attempt; 0 before the first
  int infra_failures = 0;
  int job_failures = 0;
  std::string worker_id;    // worker of the latest attempt
  std::string result_json;  // engine result record of the successful attempt, verbatim
  std::vector<ArtifactRef> artifacts;
  int64_t created_at_ms = 0;
  int64_t finished_at_ms = 0;
};

// The columns of a stored job that change after it is created: the write path updates only these
// (the job's task, tags and needs are written once, with the new row).
struct JobProgress {
  std::string id;
  JobState state = JobState::kWaiting;
  std::vector<std::string> missing_tags;
  uint32_t attempt = 0;
  int infra_failures = 0;
  int job_failures = 0;
  std::string worker_id;
  std::string result_json;
  std::vector<ArtifactRef> artifacts;
  int64_t finished_at_ms = 0;
};
JobProgress ProgressOf(const JobRecord& job);

// A run's derived state changed (the rest of the run row never changes).
struct RunStateChange {
  std::string id;
  RunState state = RunState::kQueued;
  int64_t finished_at_ms = 0;
};

struct AttemptRecord {
  std::string job_id;
  uint32_t attempt = 0;
  std::string worker_id;
  std::string lease_hash;  // sha256 of the lease token; the token itself is never stored
  AttemptState state = AttemptState::kAssigned;
  std::string outcome;  // "", succeeded, failed, timed_out, cancelled, infra_error
  std::string reason;
  int exit_code = 0;
  int term_signal = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  uint64_t peak_rss_bytes = 0;
  double cpu_seconds = 0;
  uint64_t log_bytes = 0;
};

struct WorkerRecord {
  std::string id;
  std::string name;
  Tags tags;
  uint32_t slots = 1;
  WorkerState state = WorkerState::kLive;
  std::string agent_version;
  int64_t last_seen_ms = 0;
};

struct BlobRecord {
  std::string digest;
  uint64_t size = 0;
  int64_t created_at_ms = 0;
};

// One entry of the append-only event log: every state change, in commit order.
struct EventRecord {
  int64_t id = 0;  // assigned by the store
  int64_t at_ms = 0;
  std::string kind;     // "run.created", "job.state", "attempt.finished", "worker.lost", ...
  std::string subject;  // the id the event is about
  std::string detail;   // JSON object
};

struct TokenRecord {
  std::string role;  // "admin" | "worker"
  std::string sha256;
  int64_t created_at_ms = 0;
};

}  // namespace edgefarm::coordinator
