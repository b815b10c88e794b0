// ControlStore on sqlite (the only file that touches DATA/control.db).
//
// Implementation notes:
// - WAL + synchronous=FULL like coordinator.db: a 202 for a webhook or a 201 for a token is sent
//   only after the row is durable.
// - The audit table is append-only by construction: triggers abort any UPDATE or DELETE.
// - The file is chmod'ed 0600 right after creation because it holds webhook secrets.
#include <sqlite3.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/control_store.h"
#include "sqlite_statement.h"

namespace edgefarm::coordinator {
namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE api_tokens(sha256 TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL);
CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL, role TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
  remote TEXT NOT NULL, status INTEGER NOT NULL);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TABLE repos(name TEXT PRIMARY KEY, url TEXT NOT NULL, branches_json TEXT NOT NULL,
  pipeline_file TEXT NOT NULL, webhook_secret TEXT NOT NULL, webhook_secret_env TEXT NOT NULL,
  webhook_secret_file TEXT NOT NULL, credential_env TEXT NOT NULL, credential_file TEXT NOT NULL,
  poll_interval_s INTEGER NOT NULL, created_at_ms INTEGER NOT NULL);
CREATE TABLE deliveries(id TEXT PRIMARY KEY, provider TEXT NOT NULL, repo TEXT NOT NULL,
  ref TEXT NOT NULL, before_sha TEXT NOT NULL, after_sha TEXT NOT NULL, forced INTEGER NOT NULL,
  state TEXT NOT NULL, detail TEXT NOT NULL, run_id TEXT NOT NULL, received_at_ms INTEGER NOT NULL);
CREATE TABLE triggered_runs(run_id TEXT PRIMARY KEY, repo TEXT NOT NULL, ref TEXT NOT NULL,
  commit_sha TEXT NOT NULL, pipeline_file TEXT NOT NULL, author TEXT NOT NULL,
  message TEXT NOT NULL, delivery_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX triggered_by_commit ON triggered_runs(repo, commit_sha, pipeline_file);
CREATE TABLE poll_tips(repo TEXT NOT NULL, ref TEXT NOT NULL, commit_sha TEXT NOT NULL,
  PRIMARY KEY(repo, ref));
)sql";

constexpr std::string_view kErrorPrefix = "control store ";

Status SqlError(sqlite3* db, std::string_view what) {
  return SqliteError(db, kErrorPrefix, what);
}

// Statements of this store: errors read "control store <what>: <errmsg>".
class Stmt : public SqliteStatement {
 public:
  Stmt(sqlite3* db, const char* sql) : SqliteStatement(db, sql, kErrorPrefix) {}
};

RepoRecord RepoFromRow(const Stmt& s) {
  RepoRecord r;
  r.name = s.Text(0);
  r.url = s.Text(1);
  auto branches = nlohmann::json::parse(s.Text(2), nullptr, false);
  if (branches.is_array()) {
    for (const auto& b : branches) {
      if (b.is_string()) r.branches.push_back(b.get<std::string>());
    }
  }
  r.pipeline_file = s.Text(3);
  r.webhook_secret = s.Text(4);
  r.webhook_secret_env = s.Text(5);
  r.webhook_secret_file = s.Text(6);
  r.credential_env = s.Text(7);
  r.credential_file = s.Text(8);
  r.poll_interval_s = s.Int(9);
  r.created_at_ms = s.Int(10);
  return r;
}

DeliveryRecord DeliveryFromRow(const Stmt& s) {
  DeliveryRecord d;
  d.id = s.Text(0);
  d.provider = s.Text(1);
  d.repo = s.Text(2);
  d.ref = s.Text(3);
  d.before = s.Text(4);
  d.after = s.Text(5);
  d.forced = s.Int(6) != 0;
  d.state = s.Text(7);
  d.detail = s.Text(8);
  d.run_id = s.Text(9);
  d.received_at_ms = s.Int(10);
  return d;
}

}  // namespace

Result<std::unique_ptr<ControlStore>> ControlStore::Open(const std::filesystem::path& file) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(file.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status error = IoError("open " + file.string() + ": " + sqlite3_errstr(rc));
    sqlite3_close(db);
    return error;
  }
  ::chmod(file.c_str(), 0600);
  std::unique_ptr<ControlStore> store(new ControlStore(db));
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (sqlite3_exec(db, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqlError(db, pragma);
    }
  }
  EF_RETURN_IF_ERROR(store->Migrate());
  return store;
}

ControlStore::~ControlStore() {
  sqlite3_close(db_);
}

Status ControlStore::Migrate() {
  if (sqlite3_exec(db_, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqlError(db_, "schema_version");
  }
  Stmt q(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  int64_t version = q.Next() ? q.Int(0) : 0;
  EF_RETURN_IF_ERROR(q.Error());
  if (version > kSchemaVersion) {
    return FailedPrecondition("control.db schema version " + std::to_string(version) +
                              " is newer than this coordinator's " +
                              std::to_string(kSchemaVersion));
  }
  if (version == 1) return Status::Ok();
  std::string sql =
      std::string("BEGIN;") + kSchemaV1 + "INSERT INTO schema_version(version) VALUES(1);COMMIT;";
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    Status error = SqlError(db_, "migration to version 1");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return error;
  }
  return Status::Ok();
}

Status ControlStore::AddToken(const ApiTokenRecord& t) {
  std::lock_guard lock(mu_);
  return Stmt(db_, "INSERT INTO api_tokens VALUES(?,?,?,?)")
      .Bind(t.sha256)
      .Bind(t.role)
      .Bind(t.name)
      .Bind(t.created_at_ms)
      .Run();
}

Result<std::vector<ApiTokenRecord>> ControlStore::Tokens() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT sha256, role, name, created_at_ms FROM api_tokens ORDER BY created_at_ms");
  std::vector<ApiTokenRecord> out;
  while (s.Next()) out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Int(3)});
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Status ControlStore::AppendAudit(const AuditRecord& a) {
  std::lock_guard lock(mu_);
  return Stmt(db_,
              "INSERT INTO audit(at_ms, actor, role, method, path, remote, status) "
              "VALUES(?,?,?,?,?,?,?)")
      .Bind(a.at_ms)
      .Bind(a.actor)
      .Bind(a.role)
      .Bind(a.method)
      .Bind(a.path)
      .Bind(a.remote)
      .Bind(int64_t{a.status})
      .Run();
}

Result<std::vector<AuditRecord>> ControlStore::Audit(int64_t after_id, int limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id, at_ms, actor, role, method, path, remote, status FROM audit WHERE id > ? "
         "ORDER BY id LIMIT ?");
  s.Bind(after_id).Bind(int64_t{limit});
  std::vector<AuditRecord> out;
  while (s.Next()) {
    out.push_back({s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6),
                   static_cast<int>(s.Int(7))});
  }
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Status ControlStore::PutRepo(const RepoRecord& r) {
  std::lock_guard lock(mu_);
  return Stmt(db_, "INSERT OR REPLACE INTO repos VALUES(?,?,?,?,?,?,?,?,?,?,?)")
      .Bind(r.name)
      .Bind(r.url)
      .Bind(nlohmann::json(r.branches).dump())
      .Bind(r.pipeline_file)
      .Bind(r.webhook_secret)
      .Bind(r.webhook_secret_env)
      .Bind(r.webhook_secret_file)
      .Bind(r.credential_env)
      .Bind(r.credential_file)
      .Bind(r.poll_interval_s)
      .Bind(r.created_at_ms)
      .Run();
}

Result<std::vector<RepoRecord>> ControlStore::Repos() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT * FROM repos ORDER BY name");
  std::vector<RepoRecord> out;
  while (s.Next()) out.push_back(RepoFromRow(s));
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Result<std::optional<RepoRecord>> ControlStore::FindRepo(const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT * FROM repos WHERE name = ?");
  s.Bind(name);
  std::optional<RepoRecord> out;
  if (s.Next()) out = RepoFromRow(s);
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Result<bool> ControlStore::InsertDelivery(const DeliveryRecord& d) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT OR IGNORE INTO deliveries VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  EF_RETURN_IF_ERROR(s.Bind(d.id)
                         .Bind(d.provider)
                         .Bind(d.repo)
                         .Bind(d.ref)
                         .Bind(d.before)
                         .Bind(d.after)
                         .Bind(int64_t{d.forced ? 1 : 0})
                         .Bind(d.state)
                         .Bind(d.detail)
                         .Bind(d.run_id)
                         .Bind(d.received_at_ms)
                         .Run());
  return sqlite3_changes(db_) > 0;
}

Status ControlStore::UpdateDelivery(const std::string& id, const std::string& state,
                                    const std::string& detail, const std::string& run_id) {
  std::lock_guard lock(mu_);
  return Stmt(db_, "UPDATE deliveries SET state = ?, detail = ?, run_id = ? WHERE id = ?")
      .Bind(state)
      .Bind(detail)
      .Bind(run_id)
      .Bind(id)
      .Run();
}

Result<std::vector<DeliveryRecord>> ControlStore::QueuedDeliveries() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT * FROM deliveries WHERE state = 'queued' ORDER BY received_at_ms");
  std::vector<DeliveryRecord> out;
  while (s.Next()) out.push_back(DeliveryFromRow(s));
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Result<std::optional<DeliveryRecord>> ControlStore::FindDelivery(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT * FROM deliveries WHERE id = ?");
  s.Bind(id);
  std::optional<DeliveryRecord> out;
  if (s.Next()) out = DeliveryFromRow(s);
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Status ControlStore::AddTriggeredRun(const TriggeredRun& t) {
  std::lock_guard lock(mu_);
  return Stmt(db_, "INSERT INTO triggered_runs VALUES(?,?,?,?,?,?,?,?,?)")
      .Bind(t.run_id)
      .Bind(t.repo)
      .Bind(t.ref)
      .Bind(t.commit)
      .Bind(t.pipeline_file)
      .Bind(t.author)
      .Bind(t.message)
      .Bind(t.delivery_id)
      .Bind(t.at_ms)
      .Run();
}

Result<std::optional<std::string>> ControlStore::RunForCommit(const std::string& repo,
                                                              const std::string& commit,
                                                              const std::string& pipeline_file) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT run_id FROM triggered_runs WHERE repo = ? AND commit_sha = ? AND "
         "pipeline_file = ? ORDER BY at_ms LIMIT 1");
  s.Bind(repo).Bind(commit).Bind(pipeline_file);
  std::optional<std::string> out;
  if (s.Next()) out = s.Text(0);
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Result<std::optional<TriggeredRun>> ControlStore::TriggerOf(const std::string& run_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT * FROM triggered_runs WHERE run_id = ?");
  s.Bind(run_id);
  std::optional<TriggeredRun> out;
  if (s.Next()) {
    out = TriggeredRun{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4),
                       s.Text(5), s.Text(6), s.Text(7), s.Int(8)};
  }
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Result<std::optional<std::string>> ControlStore::PollTip(const std::string& repo,
                                                         const std::string& ref) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT commit_sha FROM poll_tips WHERE repo = ? AND ref = ?");
  s.Bind(repo).Bind(ref);
  std::optional<std::string> out;
  if (s.Next()) out = s.Text(0);
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Status ControlStore::SetPollTip(const std::string& repo, const std::string& ref,
                                const std::string& commit) {
  std::lock_guard lock(mu_);
  return Stmt(db_, "INSERT OR REPLACE INTO poll_tips VALUES(?,?,?)")
      .Bind(repo)
      .Bind(ref)
      .Bind(commit)
      .Run();
}

}  // namespace edgefarm::coordinator
