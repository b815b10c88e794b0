// SlotRecordStore on sqlite3 (by way of sqlite_statement.h). The table lives in the promotion
// database (DATA/promotion.db) next to the ledger, but is a plain replaceable state table: slot
// records describe what runs now, the ledger says what happened.
#include "slot_records.h"
#include "sqlite_statement.h"

namespace edgefarm::coordinator {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS slots(environment TEXT NOT NULL, name TEXT NOT NULL,
  version TEXT NOT NULL, run_id TEXT NOT NULL, job_id TEXT NOT NULL, port INTEGER NOT NULL,
  url TEXT NOT NULL, fault TEXT NOT NULL, restarts INTEGER NOT NULL, live TEXT NOT NULL,
  weight INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, PRIMARY KEY(environment, name));
)sql";

constexpr std::string_view kErrorPrefix = "slot records: ";

class Stmt : public SqliteStatement {
 public:
  Stmt(sqlite3* db, const char* sql) : SqliteStatement(db, sql, kErrorPrefix) {}
};

class SqliteSlotRecords final : public SlotRecordStore {
 public:
  explicit SqliteSlotRecords(sqlite3* db) : db_(db) {}
  ~SqliteSlotRecords() override { sqlite3_close(db_); }

  Result<std::optional<SlotRecord>> Load(const std::string& environment,
                                         const std::string& name) override {
    Stmt q(db_,
           "SELECT version, run_id, job_id, port, url, fault, restarts, live, weight, "
           "updated_at_ms FROM slots WHERE environment = ? AND name = ?");
    q.Bind(environment).Bind(name);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<SlotRecord>();
    if (rc != SQLITE_ROW) return q.Error("load " + environment + "/" + name);
    SlotRecord r;
    r.environment = environment;
    r.name = name;
    r.version = q.Text(0);
    r.run_id = q.Text(1);
    r.job_id = q.Text(2);
    r.port = static_cast<int>(q.Int(3));
    r.url = q.Text(4);
    r.fault = q.Text(5);
    r.restarts = static_cast<int>(q.Int(6));
    r.live = q.Text(7);
    r.weight = static_cast<int>(q.Int(8));
    r.updated_at_ms = q.Int(9);
    return std::optional<SlotRecord>(std::move(r));
  }

  Status Save(const SlotRecord& r) override {
    Stmt up(db_,
            "INSERT OR REPLACE INTO slots(environment, name, version, run_id, job_id, port, url, "
            "fault, restarts, live, weight, updated_at_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
    up.Bind(r.environment).Bind(r.name).Bind(r.version).Bind(r.run_id).Bind(r.job_id);
    up.Bind(int64_t{r.port}).Bind(r.url).Bind(r.fault).Bind(int64_t{r.restarts});
    up.Bind(r.live).Bind(int64_t{r.weight}).Bind(r.updated_at_ms);
    return up.Run();
  }

  Result<std::set<int>> PortsInUse() override {
    Stmt q(db_, "SELECT port FROM slots WHERE url != '' AND port > 0");
    std::set<int> out;
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) out.insert(static_cast<int>(q.Int(0)));
    if (rc != SQLITE_DONE) return q.Error("list ports");
    return out;
  }

 private:
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SlotRecordStore>> SlotRecordStore::Open(const std::filesystem::path& path) {
  EF_ASSIGN_OR_RETURN(sqlite3 * db, OpenDurableDatabase(path, kSchema, kErrorPrefix));
  return std::unique_ptr<SlotRecordStore>(std::make_unique<SqliteSlotRecords>(db));
}

}  // namespace edgefarm::coordinator
