// SqliteStore against real database files in a temp dir.
#include "edgefarm/coordinator/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "sqlite_store_migrations.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

RunRecord MakeRun(const std::string& id) {
  RunRecord run;
  run.id = id;
  run.name = "stories";
  run.state = RunState::kRunning;
  run.pipeline_file = ".edgefarm.yml";
  run.pipeline_yaml = "name: stories\n";
  run.files = {{"models/m.gguf", std::string(64, 'a')}};
  run.created_at_ms = 1000;
  return run;
}

JobRecord Job(const std::string& id, const std::string& run_id, int seq) {
  JobRecord job;
  job.id = id;
  job.run_id = run_id;
  job.seq = seq;
  job.name = "llama_cpp/intel-x86";
  job.framework = "llama_cpp";
  job.target = "intel-x86";
  job.state = JobState::kUnschedulable;
  job.required_tags = {{"arch", "x86_64"}};
  job.missing_tags = {"arch=x86_64"};
  job.needs = {"lint"};
  job.engine_job_json = R"({"schema":"edgefarm.job/v1"})";
  job.inputs = {{"model", std::string(64, 'a'), 42}};
  job.artifacts = {{"model.gguf", std::string(64, 'b'), 7}};
  job.attempt = 2;
  job.infra_failures = 1;
  return job;
}

// The state column of a job's own row, read with a connection of its own.
std::string StoredJobState(const std::filesystem::path& file, const std::string& job_id) {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT state FROM jobs WHERE id = ?", -1, &stmt, nullptr);
  sqlite3_bind_text(stmt, 1, job_id.c_str(), -1, SQLITE_TRANSIENT);
  std::string state = sqlite3_step(stmt) == SQLITE_ROW
                          ? reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))
                          : "<no row>";
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return state;
}

AttemptRecord Attempt(const std::string& job_id, uint32_t number, AttemptState state) {
  AttemptRecord a;
  a.job_id = job_id;
  a.attempt = number;
  a.worker_id = "w-7";
  a.lease_hash = std::string(64, 'c');
  a.state = state;
  if (state == AttemptState::kFinished) a.outcome = "succeeded";
  return a;
}

// The progress of `job` as the scheduler commits it when its state changes.
JobProgress Progress(JobRecord& job, JobState state, uint32_t attempt) {
  job.state = state;
  job.attempt = attempt;
  job.worker_id = "w-7";
  job.missing_tags.clear();
  return ProgressOf(job);
}

TEST(SqliteStoreTest, MigratesAnEmptyDatabaseToTheCurrentVersion) {
  edgefarm::testing::TempDir dir;
  auto store = SqliteStore::Open(dir / "c.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), SqliteStore::kSchemaVersion);
  auto snapshot = (*store)->Load();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(snapshot->runs.empty());
  store->reset();
  // Reopening applies nothing twice.
  auto again = SqliteStore::Open(dir / "c.db");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->SchemaVersion(), SqliteStore::kSchemaVersion);
}

TEST(SqliteStoreTest, UsesWalWithFullSync) {
  edgefarm::testing::TempDir dir;
  ASSERT_TRUE(SqliteStore::Open(dir / "c.db").ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "c.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, RefusesADatabaseFromANewerCoordinator) {
  edgefarm::testing::TempDir dir;
  ASSERT_TRUE(SqliteStore::Open(dir / "c.db").ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "c.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES(99)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(dir / "c.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
}

TEST(SqliteStoreTest, CommittedRowsSurviveReopen) {
  edgefarm::testing::TempDir dir;
  {
    auto store = SqliteStore::Open(dir / "c.db");
    ASSERT_TRUE(store.ok());
    ChangeSet c;
    c.runs.push_back(MakeRun("run-1"));
    c.jobs.push_back(Job("run-1-0", "run-1", 0));
    AttemptRecord a;
    a.job_id = "run-1-0";
    a.attempt = 2;
    a.worker_id = "w";
    a.lease_hash = std::string(64, 'c');
    a.state = AttemptState::kFinished;  // the job is unschedulable after an infra failure
    a.outcome = "infra_error";
    a.cpu_seconds = 1.5;
    c.attempts.push_back(a);
    c.workers.push_back({"w", "worker", {{"arch", "x86_64"}}, 4, WorkerState::kLive, "0.1", 5});
    c.blobs.push_back({std::string(64, 'a'), 42, 9});
    c.tokens.push_back({"admin", std::string(64, 'd'), 1});
    c.events.push_back({0, 1, "run.created", "run-1", "{}"});
    ASSERT_TRUE((*store)->Commit(c).ok());
  }
  auto store = SqliteStore::Open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  auto s = (*store)->Load();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->runs.size(), 1u);
  EXPECT_EQ(s->runs[0].files, MakeRun("run-1").files);
  EXPECT_EQ(s->runs[0].state, RunState::kRunning);
  ASSERT_EQ(s->jobs.size(), 1u);
  const JobRecord& j = s->jobs[0];
  EXPECT_EQ(j.state, JobState::kUnschedulable);
  EXPECT_EQ(j.missing_tags, std::vector<std::string>{"arch=x86_64"});
  EXPECT_EQ(j.needs, std::vector<std::string>{"lint"});
  ASSERT_EQ(j.inputs.size(), 1u);
  EXPECT_EQ(j.inputs[0].size, 42u);
  ASSERT_EQ(j.artifacts.size(), 1u);
  EXPECT_EQ(j.attempt, 2u);
  ASSERT_EQ(s->attempts.size(), 1u);
  EXPECT_EQ(s->attempts[0].state, AttemptState::kFinished);
  EXPECT_EQ(s->attempts[0].outcome, "infra_error");
  EXPECT_DOUBLE_EQ(s->attempts[0].cpu_seconds, 1.5);
  ASSERT_EQ(s->workers.size(), 1u);
  EXPECT_EQ(s->workers[0].slots, 4u);
  EXPECT_EQ(s->blobs.size(), 1u);
  EXPECT_EQ(s->tokens.size(), 1u);
  auto events = (*store)->Events(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, "run.created");
}

TEST(SqliteStoreTest, AChangeSetIsOneTransaction) {
  edgefarm::testing::TempDir dir;
  auto store = SqliteStore::Open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  ChangeSet c;
  c.runs.push_back(MakeRun("run-1"));  // Load() returns the jobs of unfinished runs
  for (int i = 0; i < 50; ++i) {
    c.jobs.push_back(Job("run-1-" + std::to_string(i), "run-1", i));
    c.events.push_back({0, i, "job.state", "run-1-" + std::to_string(i), "{}"});
  }
  const int64_t before = (*store)->TransactionsCommitted();
  ASSERT_TRUE((*store)->Commit(c).ok());
  EXPECT_EQ((*store)->TransactionsCommitted(), before + 1);
  // A later row for the same id in one change set wins.
  ChangeSet twice;
  JobRecord job = Job("run-1-0", "run-1", 0);
  twice.jobs.push_back(job);
  job.state = JobState::kSucceeded;
  twice.jobs.push_back(job);
  ASSERT_TRUE((*store)->Commit(twice).ok());
  auto s = (*store)->Load();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->jobs.size(), 50u);
  EXPECT_EQ(s->jobs[0].state, JobState::kSucceeded);
}

TEST(SqliteStoreTest, LoadSkipsFinishedRunsWhichAreReadOnDemand) {
  edgefarm::testing::TempDir dir;
  auto store = SqliteStore::Open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  ChangeSet c;
  RunRecord done = MakeRun("run-done");
  done.state = RunState::kSucceeded;
  c.runs.push_back(done);
  c.runs.push_back(MakeRun("run-open"));
  for (int i = 0; i < 3; ++i) {
    JobRecord job = Job("run-done-" + std::to_string(i), "run-done", i);
    job.state = JobState::kSucceeded;
    c.jobs.push_back(job);
    AttemptRecord a;
    a.job_id = job.id;
    a.attempt = 1;
    a.state = AttemptState::kFinished;
    a.outcome = "succeeded";
    c.attempts.push_back(a);
  }
  c.jobs.push_back(Job("run-open-0", "run-open", 0));
  ASSERT_TRUE((*store)->Commit(c).ok());

  auto s = (*store)->Load();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->runs.size(), 1u);
  EXPECT_EQ(s->runs[0].id, "run-open");
  ASSERT_EQ(s->jobs.size(), 1u);
  EXPECT_TRUE(s->attempts.empty());

  auto bundle = (*store)->LoadRun("run-done");
  ASSERT_TRUE(bundle.ok() && bundle->has_value());
  EXPECT_EQ((*bundle)->run.pipeline_yaml, "name: stories\n");
  ASSERT_EQ((*bundle)->jobs.size(), 3u);
  EXPECT_EQ((*bundle)->jobs[2].seq, 2);
  ASSERT_EQ((*bundle)->attempts.size(), 3u);
  EXPECT_EQ((*bundle)->attempts[0].outcome, "succeeded");
  auto missing = (*store)->LoadRun("run-none");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto run_id = (*store)->RunIdOfJob("run-done-1");
  ASSERT_TRUE(run_id.ok());
  EXPECT_EQ(*run_id, "run-done");
  auto finished = (*store)->FinishedRuns();
  ASSERT_TRUE(finished.ok());
  ASSERT_EQ(finished->size(), 1u);
  EXPECT_EQ((*finished)[0].run.id, "run-done");
  EXPECT_EQ((*finished)[0].jobs, 3);
}

TEST(SqliteStoreTest, EventsAreAppendOnly) {
  edgefarm::testing::TempDir dir;
  ASSERT_TRUE(SqliteStore::Open(dir / "c.db").ok());
  {
    auto store = SqliteStore::Open(dir / "c.db");
    ChangeSet c;
    c.events.push_back({0, 1, "run.created", "run-1", "{}"});
    ASSERT_TRUE((*store)->Commit(c).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "c.db").c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE events SET kind='x'", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM events", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// Events are inserted many rows to a statement: every row lands, in the change set's order.
TEST(SqliteStoreTest, EventsOfALargeChangeSetKeepTheirOrder) {
  edgefarm::testing::TempDir dir;
  auto store = SqliteStore::Open(dir / "c.db");
  ASSERT_TRUE(store.ok());
  for (int round = 0; round < 2; ++round) {  // 70 rows: two full statements and a remainder
    ChangeSet c;
    for (int i = 0; i < 70; ++i) {
      c.events.push_back({0, round * 100 + i, "job.state", "job-" + std::to_string(i),
                          R"({"n":)" + std::to_string(round * 100 + i) + "}"});
    }
    ASSERT_TRUE((*store)->Commit(c).ok());
  }
  auto events = (*store)->Events(0, 1000);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 140u);
  for (size_t i = 0; i < events->size(); ++i) {
    const EventRecord& e = (*events)[i];
    const int64_t n = (i < 70 ? 0 : 100) + static_cast<int64_t>(i % 70);
    EXPECT_EQ(e.id, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(e.at_ms, n);
    EXPECT_EQ(e.subject, "job-" + std::to_string(i % 70));
    EXPECT_EQ(e.detail, R"({"n":)" + std::to_string(n) + "}");
  }
}

// An active attempt's row carries its job's progress: the job row keeps its queued state (one
// row update fewer per assignment), yet Load and LoadRun read the job as assigned, then running,
// with the attempt's number and worker; the attempt's end writes the job row again.
TEST(SqliteStoreTest, AnActiveAttemptCarriesItsJobsProgress) {
  edgefarm::testing::TempDir dir;
  const auto file = dir / "c.db";
  auto store = SqliteStore::Open(file);
  ASSERT_TRUE(store.ok());
  JobRecord job = Job("run-1-0", "run-1", 0);
  job.state = JobState::kQueued;
  job.missing_tags.clear();
  job.attempt = 0;
  ChangeSet submit;
  submit.runs.push_back(MakeRun("run-1"));
  submit.jobs.push_back(job);
  ASSERT_TRUE((*store)->Commit(submit).ok());

  for (JobState state : {JobState::kAssigned, JobState::kRunning}) {
    ChangeSet c;
    c.job_progress.push_back(Progress(job, state, 1));
    c.attempts.push_back(
        Attempt(job.id, 1,
                state == JobState::kAssigned ? AttemptState::kAssigned : AttemptState::kRunning));
    ASSERT_TRUE((*store)->Commit(c).ok());
    EXPECT_EQ(StoredJobState(file, job.id), "queued");
    auto reopened = SqliteStore::Open(file);
    ASSERT_TRUE(reopened.ok());
    auto snapshot = (*reopened)->Load();
    ASSERT_TRUE(snapshot.ok());
    ASSERT_EQ(snapshot->jobs.size(), 1u);
    EXPECT_EQ(snapshot->jobs[0].state, state);
    EXPECT_EQ(snapshot->jobs[0].attempt, 1u);
    EXPECT_EQ(snapshot->jobs[0].worker_id, "w-7");
    auto bundle = (*reopened)->LoadRun("run-1");
    ASSERT_TRUE(bundle.ok() && bundle->has_value());
    EXPECT_EQ((*bundle)->jobs[0].state, state);
  }

  ChangeSet done;
  done.job_progress.push_back(Progress(job, JobState::kSucceeded, 1));
  done.attempts.push_back(Attempt(job.id, 1, AttemptState::kFinished));
  ASSERT_TRUE((*store)->Commit(done).ok());
  EXPECT_EQ(StoredJobState(file, job.id), "succeeded");
  auto bundle = (*store)->LoadRun("run-1");
  ASSERT_TRUE(bundle.ok() && bundle->has_value());
  EXPECT_EQ((*bundle)->jobs[0].state, JobState::kSucceeded);
}

// Without its active attempt in the same change set, an assigned job's progress is written to its
// row: the row is skipped only when the same transaction writes the attempt that records it.
TEST(SqliteStoreTest, ProgressWithoutItsAttemptIsWrittenToTheJobRow) {
  edgefarm::testing::TempDir dir;
  const auto file = dir / "c.db";
  auto store = SqliteStore::Open(file);
  ASSERT_TRUE(store.ok());
  JobRecord job = Job("run-1-0", "run-1", 0);
  ChangeSet submit;
  submit.runs.push_back(MakeRun("run-1"));
  submit.jobs.push_back(job);
  ASSERT_TRUE((*store)->Commit(submit).ok());
  ChangeSet c;
  c.job_progress.push_back(Progress(job, JobState::kAssigned, 3));
  c.attempts.push_back(Attempt(job.id, 2, AttemptState::kFinished));  // an older attempt
  ASSERT_TRUE((*store)->Commit(c).ok());
  EXPECT_EQ(StoredJobState(file, job.id), "assigned");
}

// A database written by the previous version (rowid tables for jobs and attempts) keeps every
// row when it is migrated to WITHOUT ROWID tables.
TEST(SqliteStoreTest, MigratingToVersion6KeepsJobsAndAttempts) {
  edgefarm::testing::TempDir dir;
  const auto file = dir / "c.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  std::string sql = "CREATE TABLE schema_version(version INTEGER NOT NULL);";
  for (const StoreMigration& m : kStoreMigrations) {
    if (m.version > 5) continue;
    sql += m.sql;
    sql += "INSERT INTO schema_version VALUES(" + std::to_string(m.version) + ");";
  }
  sql +=
      "INSERT INTO runs(id, name, state, pipeline_file, pipeline_yaml, files_json, "
      "created_at_ms, finished_at_ms) VALUES('run-1', 'n', 'running', 'f', 'y', '{}', 1, 0);"
      "INSERT INTO jobs VALUES('run-1-0', 'run-1', 0, 'a', 'command', '', '', 'queued', '{}',"
      " '[]', '[]', '{\"engine_job_json\":\"\",\"argv\":[\"true\"],\"env\":{},"
      "\"inputs\":[],\"timeout_seconds\":60,\"retry_infra\":2,\"retry_job\":0}',"
      " 1, 1, 0, 'w-7', '', '[]', 1, 0);"
      "INSERT INTO attempts VALUES('run-1-0', 1, 'w-7', 'h', 'finished', 'infra_error', 'lost',"
      " 0, 0, 1, 2, 0, 0.5, 0);";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);

  auto store = SqliteStore::Open(file);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), SqliteStore::kSchemaVersion);
  auto snapshot = (*store)->Load();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  ASSERT_EQ(snapshot->jobs.size(), 1u);
  EXPECT_EQ(snapshot->jobs[0].argv, std::vector<std::string>{"true"});
  EXPECT_EQ(snapshot->jobs[0].infra_failures, 1);
  ASSERT_EQ(snapshot->attempts.size(), 1u);
  EXPECT_EQ(snapshot->attempts[0].reason, "lost");
  EXPECT_DOUBLE_EQ(snapshot->attempts[0].cpu_seconds, 0.5);
}

}  // namespace
}  // namespace edgefarm::coordinator
