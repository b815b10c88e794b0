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
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/records.h"

namespace edgefarm::coordinator {

// Rows to insert or replace (keyed by their id), plus events to append.
struct ChangeSet {
  std::vector<RunRecord> runs;
  std::vector<JobRecord> jobs;
  std::vector<AttemptRecord> attempts;
  std::vector<WorkerRecord> workers;
  std::vector<BlobRecord> blobs;
  std::vector<TokenRecord> tokens;
  std::vector<EventRecord> events;

  bool empty() const {
    return runs.empty() && jobs.empty() && attempts.empty() && workers.empty() && blobs.empty() &&
           tokens.empty() && events.empty();
  }
  // Appends other's rows after this one's (later rows for the same id win on commit).
  void Merge(ChangeSet other);
};

// Everything the coordinator reloads on start.
struct StoreSnapshot {
  std::vector<RunRecord> runs;
  std::vector<JobRecord> jobs;  // ordered by run, then seq
  std::vector<AttemptRecord> attempts;
  std::vector<WorkerRecord> workers;
  std::vector<BlobRecord> blobs;
  std::vector<TokenRecord> tokens;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies every row of changes in one transaction; durable when it returns OK. On error nothing
  // of changes is applied.
  virtual Status Commit(const ChangeSet& changes) = 0;

  virtual Result<StoreSnapshot> Load() = 0;

  // Events with id > after_id, oldest first, at most limit.
  virtual Result<std::vector<EventRecord>> Events(int64_t after_id, int limit) = 0;

  // The schema version the store is at.
  virtual int SchemaVersion() const = 0;

  // Transactions committed since open (for tests and metrics).
  virtual int64_t TransactionsCommitted() const = 0;
};

}  // namespace edgefarm::coordinator
