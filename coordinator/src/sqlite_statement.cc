// Prepared-statement helpers shared by the coordinator's sqlite adapters.
//
// Implementation note: binds on a statement that did not prepare are skipped rather than handed
// to sqlite (which would answer SQLITE_MISUSE); the failure surfaces once, from Run(), Step(),
// Next()/Error(), with the message of the failed prepare still in sqlite3_errmsg.
#include "sqlite_statement.h"

namespace edgefarm::coordinator {

Status SqliteError(sqlite3* db, std::string_view prefix, std::string_view what) {
  return IoError(std::string(prefix) + std::string(what) + ": " + sqlite3_errmsg(db));
}

Status SqliteExec(sqlite3* db, const char* sql, std::string_view prefix) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) == SQLITE_OK) return Status::Ok();
  std::string message = error ? error : "unknown error";
  sqlite3_free(error);
  return IoError(std::string(prefix) + message);
}

void ConfigureSqliteOnce() {
  static const bool configured = [] {
    // SQLITE_MISUSE once sqlite is initialised: then the defaults stay, which is only slower.
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  }();
  (void)configured;
}

Result<sqlite3*> OpenDurableDatabase(const std::filesystem::path& path, const char* schema,
                                     std::string_view prefix) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return IoError("open " + path.string() + ": " + why);
  }
  Status ready = SqliteExec(db, "PRAGMA busy_timeout=5000;", prefix);
  if (ready.ok())
    ready = SqliteExec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", prefix);
  if (ready.ok()) ready = SqliteExec(db, schema, prefix);
  if (!ready.ok()) {
    sqlite3_close(db);
    return ready;
  }
  return db;
}

StatementCache::~StatementCache() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
}

sqlite3_stmt* StatementCache::Get(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  stmts_[sql] = stmt;
  return stmt;
}

SqliteStatement::SqliteStatement(sqlite3* db, const char* sql, std::string_view error_prefix)
    : db_(db), prefix_(error_prefix) {
  if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
}

SqliteStatement::SqliteStatement(StatementCache& cache, const char* sql,
                                 std::string_view error_prefix)
    : db_(cache.db()), stmt_(cache.Get(sql)), prefix_(error_prefix), owned_(false) {}

SqliteStatement::~SqliteStatement() {
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

SqliteStatement& SqliteStatement::Bind(const std::string& v) {
  ++index_;
  if (stmt_ != nullptr) {
    sqlite3_bind_text(stmt_, index_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

SqliteStatement& SqliteStatement::BindUnowned(std::string_view v) {
  ++index_;
  if (stmt_ != nullptr) {
    sqlite3_bind_text(stmt_, index_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int64_t v) {
  ++index_;
  if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, index_, v);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(double v) {
  ++index_;
  if (stmt_ != nullptr) sqlite3_bind_double(stmt_, index_, v);
  return *this;
}

Status SqliteStatement::Run() {
  if (!ok()) return SqliteError(db_, prefix_, "prepare");
  if (sqlite3_step(stmt_) != SQLITE_DONE) return SqliteError(db_, prefix_, "step");
  return Status::Ok();
}

bool SqliteStatement::Next() {
  if (!ok()) return false;
  int rc = sqlite3_step(stmt_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) failed_ = true;
  return rc == SQLITE_ROW;
}

Status SqliteStatement::Error() const {
  if (!ok() || failed_) return SqliteError(db_, prefix_, "query");
  return Status::Ok();
}

int SqliteStatement::Step() {
  return stmt_ != nullptr ? sqlite3_step(stmt_) : SQLITE_ERROR;
}

std::string SqliteStatement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

}  // namespace edgefarm::coordinator
