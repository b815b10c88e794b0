// The coordinator's durable state behind a small role interface.
//
// The scheduler keeps its working state in memory and hands every change to the store as one
// ChangeSet per tick: Commit() applies it in a single transaction (all or nothing) and returns only
// once it is durable, so the caller may then acknowledge what it describes. Load() returns
// everything needed to carry on after a restart.
//
// Thread-safety: implementations are not required to be thread-safe; the coordinator serialises
// calls. Failure: every method reports errors as a Status; nothing throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/records.h"

namespace edgefarm::coordinator {

// Rows to insert or replace (keyed by their id), updates of existing runs and jobs, plus events
// to append. Whole rows are applied before updates.
struct ChangeSet {
  std::vector<RunRecord> runs;
  std::vector<RunStateChange> run_states;  // of runs already stored (or in `runs`)
  std::vector<JobRecord> jobs;
  std::vector<JobProgress> job_progress;  // of jobs already stored (or in `jobs`)
  std::vector<AttemptRecord> attempts;
  std::vector<WorkerRecord> workers;
  std::vector<BlobRecord> blobs;
  std::vector<TokenRecord> tokens;
  std::vector<EventRecord> events;

  bool empty() const {
    return runs.empty() && run_states.empty() && jobs.empty() && job_progress.empty() &&
           attempts.empty() && workers.empty() && blobs.empty() && tokens.empty() && events.empty();
  }
  // Appends other's rows after this one's (later rows for the same id win on commit).
  void Merge(ChangeSet other);
};

// What the coordinator reloads on start: the unfinished runs (queued or running) with all their
// jobs and attempts, every worker, blob and token. Finished runs stay in the store and are read
// on demand (LoadRun, FinishedRuns), so a restart costs O(unfinished work), not O(history).
struct StoreSnapshot {
  std::vector<RunRecord> runs;          // unfinished only
  std::vector<JobRecord> jobs;          // of those runs, ordered by run, then seq
  std::vector<AttemptRecord> attempts;  // of those jobs
  std::vector<WorkerRecord> workers;
  std::vector<BlobRecord> blobs;
  std::vector<TokenRecord> tokens;
};

// One run read back whole (for the API, after it left the scheduler's memory).
struct RunBundle {
  RunRecord run;
  std::vector<JobRecord> jobs;          // by seq
  std::vector<AttemptRecord> attempts;  // by job, then attempt
};

// A finished run for listings, with its job count (every job of a finished run is terminal).
struct RunListing {
  RunRecord run;
  int jobs = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies every row of changes in one transaction; durable when it returns OK. On error nothing
  // of changes is applied.
  virtual Status Commit(const ChangeSet& changes) = 0;

  virtual Result<StoreSnapshot> Load() = 0;

  // The run with its jobs and attempts; nullopt if there is no such run.
  virtual Result<std::optional<RunBundle>> LoadRun(const std::string& run_id) = 0;

  // The run a job belongs to; "" if there is no such job.
  virtual Result<std::string> RunIdOfJob(const std::string& job_id) = 0;

  // Every finished run (succeeded, failed, cancelled) without its pipeline_yaml, oldest first.
  virtual Result<std::vector<RunListing>> FinishedRuns() = 0;

  // Events with id > after_id, oldest first, at most limit.
  virtual Result<std::vector<EventRecord>> Events(int64_t after_id, int limit) = 0;

  // The schema version the store is at.
  virtual int SchemaVersion() const = 0;

  // Transactions committed since open (for tests and metrics).
  virtual int64_t TransactionsCommitted() const = 0;
};

}  // namespace edgefarm::coordinator
