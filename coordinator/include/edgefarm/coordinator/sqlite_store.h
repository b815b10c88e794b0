// The real Store: one sqlite database file (DATA/coordinator.db).
//
// Opened in WAL mode with synchronous=FULL, so a committed transaction survives a crash of the
// process or the machine. The schema is versioned: a `schema_version` table holds the version and
// Open() applies the ordered migrations that are missing, each in its own transaction. A database
// from a newer coordinator (higher version) is refused rather than guessed at.
//
// Thread-safety: one SqliteStore is used by one thread at a time (the coordinator serialises).
#pragma once

#include <filesystem>
#include <memory>

#include "edgefarm/coordinator/store.h"

struct sqlite3;

namespace edgefarm::coordinator {

class StatementCache;   // sqlite_statement.h
class WalCheckpointer;  // wal_checkpointer.h

class SqliteStore final : public Store {
 public:
  // The version this build writes; docs/storage.md describes each version.
  static constexpr int kSchemaVersion = 6;

  // kShared: sqlite serialises calls on the connection itself (its default). kWriter: the
  // connection of the coordinator's writer thread, used by one thread at a time, so sqlite takes
  // no connection mutex on each bind and step; it gets a 64 MiB page cache, and its WAL is
  // checkpointed on a thread of its own (WalCheckpointer) instead of inside its commits.
  enum class Role { kShared, kWriter };
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& file,
                                                   Role role = Role::kShared);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Commit(const ChangeSet& changes) override;
  Result<StoreSnapshot> Load() override;
  Result<std::optional<RunBundle>> LoadRun(const std::string& run_id) override;
  Result<std::string> RunIdOfJob(const std::string& job_id) override;
  Result<std::vector<RunListing>> FinishedRuns() override;
  Result<std::vector<EventRecord>> Events(int64_t after_id, int limit) override;
  int SchemaVersion() const override { return version_; }
  int64_t TransactionsCommitted() const override { return transactions_; }

 private:
  explicit SqliteStore(sqlite3* db);
  Status Migrate();
  Status Exec(const char* sql);

  sqlite3* db_;
  std::unique_ptr<StatementCache> cache_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // kWriter only
  int version_ = 0;
  int64_t transactions_ = 0;
};

}  // namespace edgefarm::coordinator
