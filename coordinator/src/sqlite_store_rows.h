// Internal to the sqlite adapter (sqlite_store.cc, sqlite_store_writes.cc): its statement type,
// the write side of a commit (kept apart from the reads, the loads and the migrations), and the
// fold that the loads apply to undo the write side's rule for active attempts.
#pragma once

#include <string_view>
#include <vector>

#include "edgefarm/coordinator/store.h"
#include "sqlite_statement.h"

namespace edgefarm::coordinator {

inline constexpr std::string_view kStoreErrorPrefix = "sqlite ";

// Statements of this store: errors read "sqlite <what>: <errmsg>".
class StoreStatement : public SqliteStatement {
 public:
  StoreStatement(sqlite3* db, const char* sql) : SqliteStatement(db, sql, kStoreErrorPrefix) {}
  StoreStatement(StatementCache& cache, const char* sql)
      : SqliteStatement(cache, sql, kStoreErrorPrefix) {}
};

// Writes every row of `changes` inside the caller's transaction. Throws nlohmann::json
// exceptions if a structured field cannot be encoded; the caller catches.
Status WriteChanges(StatementCache& cache, const ChangeSet& changes);

// The read side of WriteChanges' rule for active attempts: a job that is not terminal and whose
// latest attempt is unfinished takes that attempt's number, worker and state. `attempts` are
// ordered by job id, then attempt number.
void FoldActiveAttempts(std::vector<JobRecord>& jobs, const std::vector<AttemptRecord>& attempts);

}  // namespace edgefarm::coordinator
