// PromotionLedger on sqlite3 (the only file of the promotion code that includes <sqlite3.h>).
// Append-only is enforced by triggers in the schema rather than by convention.
#include <sqlite3.h>

#include "edgefarm/coordinator/ledger.h"

namespace edgefarm::coordinator {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS promotions(id TEXT PRIMARY KEY, environment TEXT NOT NULL,
  state_json TEXT NOT NULL, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS promotions_env ON promotions(environment, created_at_ms);
CREATE TABLE IF NOT EXISTS ledger(id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
  environment TEXT NOT NULL, promotion_id TEXT NOT NULL, kind TEXT NOT NULL, slot TEXT NOT NULL,
  version TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_env ON ledger(environment, id);
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
)sql";

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  Stmt& Text(int i, const std::string& v) {
    if (stmt_) sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    if (stmt_) sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  std::string ColText(int i) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : "";
  }
  int64_t ColInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  Status Error(const std::string& what) const {
    return IoError("promotion ledger: " + what + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteLedger final : public PromotionLedger {
 public:
  explicit SqliteLedger(sqlite3* db) : db_(db) {}
  ~SqliteLedger() override { sqlite3_close(db_); }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return Status::Ok();
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return IoError("promotion ledger: " + message);
  }

  Status Commit(const PromotionRow& row, const std::vector<LedgerEntry>& entries) override {
    EF_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = Write(row, entries);
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
    return Exec("COMMIT");
  }

  Result<std::vector<PromotionRow>> Promotions(const std::string& environment) override {
    Stmt q(db_,
           "SELECT id, environment, state_json, created_at_ms, updated_at_ms FROM promotions "
           "WHERE environment = ? ORDER BY created_at_ms, rowid");
    q.Text(1, environment);
    return ReadRows(q);
  }

  Result<std::optional<PromotionRow>> Promotion(const std::string& id) override {
    Stmt q(db_,
           "SELECT id, environment, state_json, created_at_ms, updated_at_ms FROM promotions "
           "WHERE id = ?");
    q.Text(1, id);
    EF_ASSIGN_OR_RETURN(auto rows, ReadRows(q));
    if (rows.empty()) return std::optional<PromotionRow>();
    return std::optional<PromotionRow>(rows.front());
  }

  Result<std::vector<LedgerEntry>> History(const std::string& environment) override {
    Stmt q(db_,
           "SELECT id, at_ms, environment, promotion_id, kind, slot, version, actor, detail "
           "FROM ledger WHERE ?1 = '' OR environment = ?1 ORDER BY id");
    q.Text(1, environment);
    std::vector<LedgerEntry> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      out.push_back({q.ColInt(0), q.ColInt(1), q.ColText(2), q.ColText(3), q.ColText(4),
                     q.ColText(5), q.ColText(6), q.ColText(7), q.ColText(8)});
    }
    if (rc != SQLITE_DONE) return q.Error("read history");
    return out;
  }

  Result<std::vector<std::string>> Environments() override {
    Stmt q(db_,
           "SELECT environment FROM promotions UNION SELECT environment FROM ledger ORDER BY 1");
    std::vector<std::string> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) out.push_back(q.ColText(0));
    if (rc != SQLITE_DONE) return q.Error("list environments");
    return out;
  }

 private:
  Status Write(const PromotionRow& row, const std::vector<LedgerEntry>& entries) {
    if (!row.id.empty()) {
      Stmt up(db_,
              "INSERT INTO promotions(id, environment, state_json, created_at_ms, updated_at_ms) "
              "VALUES(?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state_json = excluded.state_json, "
              "updated_at_ms = excluded.updated_at_ms");
      up.Text(1, row.id).Text(2, row.environment).Text(3, row.state_json);
      up.Int(4, row.created_at_ms).Int(5, row.updated_at_ms);
      if (up.Step() != SQLITE_DONE) return up.Error("save promotion " + row.id);
    }
    for (const auto& e : entries) {
      Stmt in(db_,
              "INSERT INTO ledger(at_ms, environment, promotion_id, kind, slot, version, actor, "
              "detail) VALUES(?,?,?,?,?,?,?,?)");
      in.Int(1, e.at_ms).Text(2, e.environment).Text(3, e.promotion_id).Text(4, e.kind);
      in.Text(5, e.slot).Text(6, e.version).Text(7, e.actor).Text(8, e.detail);
      if (in.Step() != SQLITE_DONE) return in.Error("append " + e.kind);
    }
    return Status::Ok();
  }

  Result<std::vector<PromotionRow>> ReadRows(Stmt& q) {
    std::vector<PromotionRow> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      out.push_back({q.ColText(0), q.ColText(1), q.ColText(2), q.ColInt(3), q.ColInt(4)});
    }
    if (rc != SQLITE_DONE) return q.Error("read promotions");
    return out;
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<PromotionLedger>> PromotionLedger::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return IoError("open " + path.string() + ": " + why);
  }
  auto ledger = std::make_unique<SqliteLedger>(db);
  EF_RETURN_IF_ERROR(ledger->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  EF_RETURN_IF_ERROR(ledger->Exec("PRAGMA busy_timeout=5000;"));
  EF_RETURN_IF_ERROR(ledger->Exec(kSchema));
  return std::unique_ptr<PromotionLedger>(std::move(ledger));
}

}  // namespace edgefarm::coordinator
