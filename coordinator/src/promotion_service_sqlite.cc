// RunPromotionStore on sqlite3 (adapter; by way of sqlite_statement.h). Shares DATA/promotion.db
// with the ledger through its own connection; busy_timeout covers the two writers.
#include "promotion_service_store.h"
#include "sqlite_statement.h"

namespace edgefarm::coordinator {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS run_promotions(run_id TEXT PRIMARY KEY, submitter TEXT NOT NULL,
  record_json TEXT NOT NULL, done INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS run_promotions_pending ON run_promotions(done);
)sql";

constexpr std::string_view kErrorPrefix = "run promotions: ";

class SqliteRunPromotionStore final : public RunPromotionStore {
 public:
  explicit SqliteRunPromotionStore(sqlite3* db) : db_(db) {}
  ~SqliteRunPromotionStore() override { sqlite3_close(db_); }

  Status Put(const RunPromotionRow& row) override {
    SqliteStatement q(db_,
                      "INSERT INTO run_promotions(run_id, submitter, record_json, done, "
                      "updated_at_ms) VALUES(?,?,?,?,?) ON CONFLICT(run_id) DO UPDATE SET "
                      "submitter = excluded.submitter, record_json = excluded.record_json, "
                      "done = excluded.done, updated_at_ms = excluded.updated_at_ms",
                      kErrorPrefix);
    q.Bind(row.run_id).Bind(row.submitter).Bind(row.record_json);
    q.Bind(int64_t{row.done ? 1 : 0}).Bind(row.updated_at_ms);
    return q.Run();
  }

  Result<std::optional<RunPromotionRow>> Get(const std::string& run_id) override {
    SqliteStatement q(db_,
                      "SELECT run_id, submitter, record_json, done, updated_at_ms FROM "
                      "run_promotions WHERE run_id = ?",
                      kErrorPrefix);
    q.Bind(run_id);
    EF_ASSIGN_OR_RETURN(auto rows, Read(q));
    if (rows.empty()) return std::optional<RunPromotionRow>();
    return std::optional<RunPromotionRow>(rows.front());
  }

  Result<std::vector<RunPromotionRow>> Pending() override {
    SqliteStatement q(db_,
                      "SELECT run_id, submitter, record_json, done, updated_at_ms FROM "
                      "run_promotions WHERE done = 0 ORDER BY rowid",
                      kErrorPrefix);
    return Read(q);
  }

 private:
  static Result<std::vector<RunPromotionRow>> Read(SqliteStatement& q) {
    std::vector<RunPromotionRow> out;
    while (q.Next()) out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3) != 0, q.Int(4)});
    EF_RETURN_IF_ERROR(q.Error());
    return out;
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<RunPromotionStore>> RunPromotionStore::Open(
    const std::filesystem::path& path) {
  EF_ASSIGN_OR_RETURN(sqlite3 * db, OpenDurableDatabase(path, kSchema, kErrorPrefix));
  return std::unique_ptr<RunPromotionStore>(std::make_unique<SqliteRunPromotionStore>(db));
}

}  // namespace edgefarm::coordinator
