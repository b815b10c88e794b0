// SqliteStore: the sqlite adapter behind Store.
//
// Implementation notes:
// - Rows are written with INSERT OR REPLACE keyed by primary key; there are no foreign keys, so a
//   replace never cascades. Structured fields (tags, needs, the job's task, artifacts) are JSON
//   text columns: they are only ever read back whole. The writes are in sqlite_store_writes.cc.
// - While a job has an active attempt, its progress is stored in the attempt's row only, and
//   folded back into the job when read (sqlite_store_rows.h).
// - Every Commit() is BEGIN IMMEDIATE ... COMMIT; with WAL + synchronous=FULL the COMMIT returns
//   after the WAL is fsynced, which is the durability point the scheduler acknowledges after.
// - Migrations are an ordered list (sqlite_store_migrations.h); each runs in its own transaction
//   together with the bump of schema_version, so a crash mid-migration leaves the previous
//   version intact.
#include "edgefarm/coordinator/sqlite_store.h"

#include <sqlite3.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "sqlite_statement.h"
#include "sqlite_store_migrations.h"
#include "sqlite_store_rows.h"
#include "wal_checkpointer.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;
using Statement = StoreStatement;

// Unfinished runs: what a restart reloads.
#define EF_UNFINISHED_RUNS "SELECT id FROM runs WHERE state IN ('queued','running')"

std::vector<InputRef> InputsFromJson(const json& j) {
  std::vector<InputRef> out;
  for (const auto& in : j) {
    out.push_back({in.at("name"), in.at("digest"), in.at("size")});
  }
  return out;
}

std::vector<ArtifactRef> ArtifactsFromJson(const json& j) {
  std::vector<ArtifactRef> out;
  for (const auto& a : j) out.push_back({a.at("name"), a.at("digest"), a.at("size")});
  return out;
}

// Throws nlohmann::json exceptions on corrupt JSON columns; the caller catches.
Result<JobRecord> ReadJob(const Statement& s) {
  JobRecord j;
  j.id = s.Text(0);
  j.run_id = s.Text(1);
  j.seq = static_cast<int>(s.Int(2));
  j.name = s.Text(3);
  j.is_engine = s.Text(4) == "engine";
  j.framework = s.Text(5);
  j.target = s.Text(6);
  EF_ASSIGN_OR_RETURN(j.state, ParseJobState(s.Text(7)));
  j.required_tags = json::parse(s.Text(8)).get<Tags>();
  j.missing_tags = json::parse(s.Text(9)).get<std::vector<std::string>>();
  j.needs = json::parse(s.Text(10)).get<std::vector<std::string>>();
  json task = json::parse(s.Text(11));
  j.engine_job_json = task.at("engine_job_json");
  j.argv = task.at("argv").get<std::vector<std::string>>();
  j.env = task.at("env").get<std::map<std::string, std::string>>();
  j.inputs = InputsFromJson(task.at("inputs"));
  j.timeout_seconds = task.at("timeout_seconds");
  j.retry_infra = task.at("retry_infra");
  j.retry_job = task.at("retry_job");
  j.resource_group = task.value("resource_group", std::string());
  j.attempt = static_cast<uint32_t>(s.Int(12));
  j.infra_failures = static_cast<int>(s.Int(13));
  j.job_failures = static_cast<int>(s.Int(14));
  j.worker_id = s.Text(15);
  j.result_json = s.Text(16);
  j.artifacts = ArtifactsFromJson(json::parse(s.Text(17)));
  j.created_at_ms = s.Int(18);
  j.finished_at_ms = s.Int(19);
  return j;
}

// Throws nlohmann::json exceptions on a corrupt files column; the caller catches.
Result<RunRecord> ReadRun(const Statement& s) {
  RunRecord r;
  r.id = s.Text(0);
  r.name = s.Text(1);
  EF_ASSIGN_OR_RETURN(r.state, ParseRunState(s.Text(2)));
  r.pipeline_file = s.Text(3);
  r.pipeline_yaml = s.Text(4);
  r.files = json::parse(s.Text(5)).get<std::map<std::string, std::string>>();
  r.created_at_ms = s.Int(6);
  r.finished_at_ms = s.Int(7);
  r.priority = static_cast<int>(s.Int(8));
  r.max_running = static_cast<int>(s.Int(9));
  r.repository = s.Text(10);
  return r;
}

AttemptRecord ReadAttempt(const Statement& s, Status* bad_state) {
  AttemptRecord a;
  a.job_id = s.Text(0);
  a.attempt = static_cast<uint32_t>(s.Int(1));
  a.worker_id = s.Text(2);
  a.lease_hash = s.Text(3);
  auto state = ParseAttemptState(s.Text(4));
  if (state.ok()) {
    a.state = *state;
  } else {
    *bad_state = state.status();
  }
  a.outcome = s.Text(5);
  a.reason = s.Text(6);
  a.exit_code = static_cast<int>(s.Int(7));
  a.term_signal = static_cast<int>(s.Int(8));
  a.started_at_ms = s.Int(9);
  a.finished_at_ms = s.Int(10);
  a.peak_rss_bytes = static_cast<uint64_t>(s.Int(11));
  a.cpu_seconds = s.Real(12);
  a.log_bytes = static_cast<uint64_t>(s.Int(13));
  return a;
}

// Reads every row of a prepared query of runs / jobs / attempts into `out`.
Status ReadRuns(Statement& s, std::vector<RunRecord>& out) {
  while (s.Next()) {
    EF_ASSIGN_OR_RETURN(RunRecord r, ReadRun(s));
    out.push_back(std::move(r));
  }
  return s.Error();
}

Status ReadJobs(Statement& s, std::vector<JobRecord>& out) {
  while (s.Next()) {
    EF_ASSIGN_OR_RETURN(JobRecord j, ReadJob(s));
    out.push_back(std::move(j));
  }
  return s.Error();
}

Status ReadAttempts(Statement& s, std::vector<AttemptRecord>& out) {
  Status bad_state;
  while (s.Next()) {
    out.push_back(ReadAttempt(s, &bad_state));
    EF_RETURN_IF_ERROR(bad_state);
  }
  return s.Error();
}

Status LoadRuns(sqlite3* db, StoreSnapshot& out) {
  Statement s(db,
              "SELECT * FROM runs WHERE id IN (" EF_UNFINISHED_RUNS ") ORDER BY created_at_ms, id");
  EF_RETURN_IF_ERROR(ReadRuns(s, out.runs));
  Statement jobs(
      db, "SELECT * FROM jobs WHERE run_id IN (" EF_UNFINISHED_RUNS ") ORDER BY run_id, seq");
  EF_RETURN_IF_ERROR(ReadJobs(jobs, out.jobs));
  Statement attempts(db,
                     "SELECT * FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE "
                     "run_id IN (" EF_UNFINISHED_RUNS ")) ORDER BY job_id, attempt");
  EF_RETURN_IF_ERROR(ReadAttempts(attempts, out.attempts));
  FoldActiveAttempts(out.jobs, out.attempts);
  return Status::Ok();
}

Status LoadWorkers(sqlite3* db, StoreSnapshot& out) {
  Statement w(db, "SELECT * FROM workers ORDER BY id");
  while (w.Next()) {
    WorkerRecord r;
    r.id = w.Text(0);
    r.name = w.Text(1);
    r.tags = json::parse(w.Text(2)).get<Tags>();
    r.slots = static_cast<uint32_t>(w.Int(3));
    EF_ASSIGN_OR_RETURN(r.state, ParseWorkerState(w.Text(4)));
    r.agent_version = w.Text(5);
    r.last_seen_ms = w.Int(6);
    out.workers.push_back(std::move(r));
  }
  return w.Error();
}

Status LoadBlobsAndTokens(sqlite3* db, StoreSnapshot& out) {
  Statement b(db, "SELECT digest, size, created_at_ms FROM blobs ORDER BY digest");
  while (b.Next()) {
    out.blobs.push_back({b.Text(0), static_cast<uint64_t>(b.Int(1)), b.Int(2)});
  }
  EF_RETURN_IF_ERROR(b.Error());
  Statement t(db, "SELECT role, sha256, created_at_ms FROM tokens ORDER BY created_at_ms");
  while (t.Next()) out.tokens.push_back({t.Text(0), t.Text(1), t.Int(2)});
  return t.Error();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& file,
                                                       Role role) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  const int mutex = role == Role::kWriter ? SQLITE_OPEN_NOMUTEX : 0;
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | mutex,
                           nullptr);
  if (rc != SQLITE_OK) {
    Status error = IoError("cannot open " + file.string() + ": " +
                           (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, 5000);
  EF_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  EF_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  EF_RETURN_IF_ERROR(store->Migrate());
  if (role == Role::kWriter) {
    // The writer's cache keeps the pages of in-flight jobs, the indexes and the event log's tail
    // between its transactions (no other connection writes, so sqlite keeps the cache valid);
    // sqlite's default of 2 MiB re-read them through the kernel on every commit.
    EF_RETURN_IF_ERROR(store->Exec("PRAGMA cache_size=-65536"));
    EF_ASSIGN_OR_RETURN(store->checkpointer_, WalCheckpointer::Start(file));
    store->checkpointer_->Attach(db);
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db) : db_(db), cache_(std::make_unique<StatementCache>(db)) {}

SqliteStore::~SqliteStore() {
  cache_.reset();  // statements are finalised before the connection closes
  sqlite3_close(db_);
  checkpointer_.reset();  // after the connection whose WAL hook points at it
}

Status SqliteStore::Exec(const char* sql) {
  return SqliteExec(db_, sql, "sqlite: ");
}

Status SqliteStore::Migrate() {
  EF_RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
  {
    Statement s(db_, "SELECT MAX(version) FROM schema_version");
    version_ = s.Next() ? static_cast<int>(s.Int(0)) : 0;
    EF_RETURN_IF_ERROR(s.Error());
  }
  if (version_ > kSchemaVersion) {
    return FailedPrecondition("database schema version " + std::to_string(version_) +
                              " is newer than this coordinator's " +
                              std::to_string(kSchemaVersion));
  }
  for (const StoreMigration& m : kStoreMigrations) {
    if (m.version <= version_) continue;
    EF_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = Exec(m.sql);
    if (s.ok()) {
      Statement bump(db_, "INSERT INTO schema_version(version) VALUES(?)");
      s = bump.Bind(int64_t{m.version}).Run();
    }
    if (s.ok()) s = Exec("COMMIT");
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return s.WithContext("migration to version " + std::to_string(m.version));
    }
    version_ = m.version;
  }
  return Status::Ok();
}

Status SqliteStore::Commit(const ChangeSet& changes) {
  if (changes.empty()) return Status::Ok();
  std::unique_lock<std::mutex> checkpoint_hold;
  if (checkpointer_) checkpoint_hold = checkpointer_->CommitLock();
  EF_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status s;
  try {
    s = WriteChanges(*cache_, changes);
  } catch (const std::exception& e) {
    s = Internal(std::string("encoding a row: ") + e.what());
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s.WithContext("commit");
  }
  ++transactions_;
  return Status::Ok();
}

Result<StoreSnapshot> SqliteStore::Load() {
  StoreSnapshot out;
  try {
    EF_RETURN_IF_ERROR(LoadRuns(db_, out));
    EF_RETURN_IF_ERROR(LoadWorkers(db_, out));
    EF_RETURN_IF_ERROR(LoadBlobsAndTokens(db_, out));
  } catch (const std::exception& e) {
    return DataLoss(std::string("corrupt row in coordinator database: ") + e.what());
  }
  return out;
}

Result<std::optional<RunBundle>> SqliteStore::LoadRun(const std::string& run_id) {
  RunBundle out;
  try {
    std::vector<RunRecord> runs;
    Statement s(db_, "SELECT * FROM runs WHERE id = ?");
    s.Bind(run_id);
    EF_RETURN_IF_ERROR(ReadRuns(s, runs));
    if (runs.empty()) return std::optional<RunBundle>();
    out.run = std::move(runs.front());
    Statement jobs(db_, "SELECT * FROM jobs WHERE run_id = ? ORDER BY seq");
    jobs.Bind(run_id);
    EF_RETURN_IF_ERROR(ReadJobs(jobs, out.jobs));
    Statement attempts(db_,
                       "SELECT * FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE "
                       "run_id = ?) ORDER BY job_id, attempt");
    attempts.Bind(run_id);
    EF_RETURN_IF_ERROR(ReadAttempts(attempts, out.attempts));
    FoldActiveAttempts(out.jobs, out.attempts);
  } catch (const std::exception& e) {
    return DataLoss("corrupt row of run " + run_id + ": " + e.what());
  }
  return std::optional<RunBundle>(std::move(out));
}

Result<std::string> SqliteStore::RunIdOfJob(const std::string& job_id) {
  Statement s(db_, "SELECT run_id FROM jobs WHERE id = ?");
  s.Bind(job_id);
  std::string run_id = s.Next() ? s.Text(0) : "";
  EF_RETURN_IF_ERROR(s.Error());
  return run_id;
}

Result<std::vector<RunListing>> SqliteStore::FinishedRuns() {
  std::vector<RunListing> out;
  Statement s(db_,
              "SELECT r.id, r.name, r.state, r.pipeline_file, '', r.files_json, r.created_at_ms, "
              "r.finished_at_ms, r.priority, r.max_running, r.repository, "
              "(SELECT COUNT(*) FROM jobs j WHERE j.run_id = r.id) FROM runs r "
              "WHERE r.state IN ('succeeded','failed','cancelled') ORDER BY r.created_at_ms, r.id");
  try {
    while (s.Next()) {
      EF_ASSIGN_OR_RETURN(RunRecord run, ReadRun(s));
      out.push_back({std::move(run), static_cast<int>(s.Int(11))});
    }
  } catch (const std::exception& e) {
    return DataLoss(std::string("corrupt run row: ") + e.what());
  }
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

Result<std::vector<EventRecord>> SqliteStore::Events(int64_t after_id, int limit) {
  std::vector<EventRecord> out;
  Statement s(db_,
              "SELECT id, at_ms, kind, subject, detail_json FROM events WHERE id > ? "
              "ORDER BY id LIMIT ?");
  s.Bind(after_id).Bind(int64_t{limit});
  while (s.Next()) out.push_back({s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4)});
  EF_RETURN_IF_ERROR(s.Error());
  return out;
}

}  // namespace edgefarm::coordinator
