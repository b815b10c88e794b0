// PromotionLedger on sqlite3 (the only file of the promotion code that includes <sqlite3.h>, by
// way of sqlite_statement.h).
// Append-only is enforced by triggers in the schema rather than by convention.
#include "edgefarm/coordinator/ledger.h"
#include "sqlite_statement.h"

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

constexpr std::string_view kErrorPrefix = "promotion ledger: ";

// Statements of the ledger: errors read "promotion ledger: <what>: <errmsg>".
class Stmt : public SqliteStatement {
 public:
  Stmt(sqlite3* db, const char* sql) : SqliteStatement(db, sql, kErrorPrefix) {}
};

class SqliteLedger final : public PromotionLedger {
 public:
  explicit SqliteLedger(sqlite3* db) : db_(db) {}
  ~SqliteLedger() override { sqlite3_close(db_); }

  Status Exec(const char* sql) { return SqliteExec(db_, sql, kErrorPrefix); }

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
    q.Bind(environment);
    return ReadRows(q);
  }

  Result<std::optional<PromotionRow>> Promotion(const std::string& id) override {
    Stmt q(db_,
           "SELECT id, environment, state_json, created_at_ms, updated_at_ms FROM promotions "
           "WHERE id = ?");
    q.Bind(id);
    EF_ASSIGN_OR_RETURN(auto rows, ReadRows(q));
    if (rows.empty()) return std::optional<PromotionRow>();
    return std::optional<PromotionRow>(rows.front());
  }

  Result<std::vector<LedgerEntry>> History(const std::string& environment) override {
    Stmt q(db_,
           "SELECT id, at_ms, environment, promotion_id, kind, slot, version, actor, detail "
           "FROM ledger WHERE ?1 = '' OR environment = ?1 ORDER BY id");
    q.Bind(environment);
    std::vector<LedgerEntry> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      out.push_back({q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5), q.Text(6),
                     q.Text(7), q.Text(8)});
    }
    if (rc != SQLITE_DONE) return q.Error("read history");
    return out;
  }

  Result<std::vector<std::string>> Environments() override {
    Stmt q(db_,
           "SELECT environment FROM promotions UNION SELECT environment FROM ledger ORDER BY 1");
    std::vector<std::string> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) out.push_back(q.Text(0));
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
      up.Bind(row.id).Bind(row.environment).Bind(row.state_json);
      up.Bind(row.created_at_ms).Bind(row.updated_at_ms);
      if (up.Step() != SQLITE_DONE) return up.Error("save promotion " + row.id);
    }
    for (const auto& e : entries) {
      Stmt in(db_,
              "INSERT INTO ledger(at_ms, environment, promotion_id, kind, slot, version, actor, "
              "detail) VALUES(?,?,?,?,?,?,?,?)");
      in.Bind(e.at_ms).Bind(e.environment).Bind(e.promotion_id).Bind(e.kind);
      in.Bind(e.slot).Bind(e.version).Bind(e.actor).Bind(e.detail);
      if (in.Step() != SQLITE_DONE) return in.Error("append " + e.kind);
    }
    return Status::Ok();
  }

  Result<std::vector<PromotionRow>> ReadRows(Stmt& q) {
    std::vector<PromotionRow> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4)});
    }
    if (rc != SQLITE_DONE) return q.Error("read promotions");
    return out;
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<PromotionLedger>> PromotionLedger::Open(const std::filesystem::path& path) {
  EF_ASSIGN_OR_RETURN(sqlite3 * db, OpenDurableDatabase(path, kSchema, kErrorPrefix));
  return std::unique_ptr<PromotionLedger>(std::make_unique<SqliteLedger>(db));
}

}  // namespace edgefarm::coordinator
