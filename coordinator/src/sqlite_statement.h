// Internal helpers shared by the coordinator's sqlite adapters (sqlite_store.cc,
// sqlite_control_store.cc, ledger_sqlite.cc, slot_records_sqlite.cc, promotion_service_sqlite.cc).
// Not a public header: it includes <sqlite3.h>, and
// only those adapter files may include it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

// IoError "<prefix><what>: <sqlite3_errmsg(db)>". Each adapter passes its own prefix so its
// messages name the database they come from (e.g. "sqlite ", "control store ").
Status SqliteError(sqlite3* db, std::string_view prefix, std::string_view what);

// Runs `sql` (one or more statements) with sqlite3_exec. On failure: IoError "<prefix><message>"
// where message is sqlite's error text for the failing statement.
Status SqliteExec(sqlite3* db, const char* sql, std::string_view prefix);

// Process-wide sqlite settings, applied before the first connection opens (later calls, or a
// sqlite that another library initialised first, leave the defaults): memory statistics off, so
// sqlite's allocations take no global mutex (nothing here reads sqlite3_memory_used).
void ConfigureSqliteOnce();

// Opens (creating if needed) a database file for durable writes: busy_timeout 5 s, WAL,
// synchronous=FULL, then runs `schema` (idempotent DDL). The caller owns the returned connection
// (sqlite3_close); on failure nothing is left open. Errors: IoError "open PATH: ..." or
// "<prefix><message>" from the pragmas or the schema.
Result<sqlite3*> OpenDurableDatabase(const std::filesystem::path& path, const char* schema,
                                     std::string_view prefix);

// Prepared statements of a write path, prepared once per connection and reused (preparing a
// statement per row cost more than the row itself). Keyed by the SQL literal's address, so `sql`
// must outlive the cache. Not thread-safe; the connection must outlive the cache.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  sqlite3* db() const { return db_; }
  // nullptr if the statement does not prepare.
  sqlite3_stmt* Get(const char* sql);

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

// A prepared statement: owned (finalised on destruction) or borrowed from a StatementCache (reset
// and unbound on destruction). A statement that fails to prepare is not an error until it is used:
// binds are ignored, Run()/Error() report it, Step() returns SQLITE_ERROR, Next() returns false.
// Bind() binds positional parameters in order, starting at 1. Errors are built with
// SqliteError(db, error_prefix, ...); `error_prefix` must outlive the statement.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const char* sql, std::string_view error_prefix);
  SqliteStatement(StatementCache& cache, const char* sql, std::string_view error_prefix);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  bool ok() const { return stmt_ != nullptr; }

  SqliteStatement& Bind(const std::string& v);  // copied: v may go away before the step
  // Binds text without copying it (SQLITE_STATIC): v must stay valid and unchanged until the
  // statement has run, e.g. a field of a row that outlives the call, or a temporary of the same
  // full expression that ends in Run(). The hot write path of sqlite_store.cc.
  SqliteStatement& BindUnowned(std::string_view v);
  SqliteStatement& Bind(int64_t v);
  SqliteStatement& Bind(double v);

  // Executes a statement that returns no rows: errors "<prefix>prepare" or "<prefix>step".
  Status Run();
  // Advances to the next row; false at the end or on failure (then Error() says so).
  bool Next();
  // "<prefix>query" if the statement did not prepare or a Next() failed, else Ok.
  Status Error() const;
  // One raw sqlite3_step: SQLITE_ROW, SQLITE_DONE or an error code (SQLITE_ERROR if unprepared).
  int Step();
  // "<prefix><what>: <errmsg>", for callers that drive Step() themselves.
  Status Error(std::string_view what) const { return SqliteError(db_, prefix_, what); }

  std::string Text(int col) const;
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string_view prefix_;
  bool owned_ = true;
  int index_ = 0;
  bool failed_ = false;
};

}  // namespace edgefarm::coordinator
