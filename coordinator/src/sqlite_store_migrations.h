// The coordinator database's schema, as the ordered migrations SqliteStore::Migrate applies
// (docs/storage.md describes each version). Internal to sqlite_store.cc.
#pragma once

namespace edgefarm::coordinator {

struct StoreMigration {
  int version;
  const char* sql;
};

// Never edit a migration once released; append a new one.
inline constexpr StoreMigration kStoreMigrations[] = {
    {1, R"sql(
CREATE TABLE runs(id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,
  pipeline_file TEXT NOT NULL, pipeline_yaml TEXT NOT NULL, files_json TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL);
CREATE TABLE jobs(id TEXT PRIMARY KEY, run_id TEXT NOT NULL, seq INTEGER NOT NULL,
  name TEXT NOT NULL, kind TEXT NOT NULL, framework TEXT NOT NULL, target TEXT NOT NULL,
  state TEXT NOT NULL, required_tags_json TEXT NOT NULL, missing_tags_json TEXT NOT NULL,
  needs_json TEXT NOT NULL, task_json TEXT NOT NULL, attempt INTEGER NOT NULL,
  infra_failures INTEGER NOT NULL, job_failures INTEGER NOT NULL, worker_id TEXT NOT NULL,
  result_json TEXT NOT NULL, artifacts_json TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL);
CREATE TABLE attempts(job_id TEXT NOT NULL, attempt INTEGER NOT NULL, worker_id TEXT NOT NULL,
  lease_sha256 TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL,
  exit_code INTEGER NOT NULL, term_signal INTEGER NOT NULL, started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL, peak_rss_bytes INTEGER NOT NULL, cpu_seconds REAL NOT NULL,
  log_bytes INTEGER NOT NULL, PRIMARY KEY(job_id, attempt));
CREATE TABLE workers(id TEXT PRIMARY KEY, name TEXT NOT NULL, tags_json TEXT NOT NULL,
  slots INTEGER NOT NULL, state TEXT NOT NULL, agent_version TEXT NOT NULL,
  last_seen_ms INTEGER NOT NULL);
CREATE TABLE blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at_ms INTEGER NOT NULL);
CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL, subject TEXT NOT NULL, detail_json TEXT NOT NULL);
CREATE TABLE tokens(sha256 TEXT PRIMARY KEY, role TEXT NOT NULL, created_at_ms INTEGER NOT NULL);
)sql"},
    {2, R"sql(
CREATE INDEX jobs_by_run ON jobs(run_id, seq);
CREATE INDEX events_by_subject ON events(subject, id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
)sql"},
    // Issue 4: fairness across runs (pipeline priority, per-run concurrency cap).
    {3, R"sql(
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 50;
ALTER TABLE runs ADD COLUMN max_running INTEGER NOT NULL DEFAULT 0;
)sql"},
    // Restart loads only unfinished runs (and their jobs and attempts through jobs_by_run and the
    // attempts primary key); finished ones are read on demand. Events are read only by id, and
    // the subject index cost a second b-tree insert per event on the hottest write path.
    {4, R"sql(
CREATE INDEX runs_by_state ON runs(state, created_at_ms);
DROP INDEX events_by_subject;
)sql"},
    // Admission per repository: a run's repository (its trigger's), "" for direct submissions.
    {5, R"sql(
ALTER TABLE runs ADD COLUMN repository TEXT NOT NULL DEFAULT '';
)sql"},
    // Jobs and attempts keyed by their primary key alone (WITHOUT ROWID). A rowid table with a
    // text key keeps a second b-tree (the automatic index) beside the rows: every insert wrote
    // both, and every progress update or attempt upsert looked up the key there first and then
    // the row by rowid. Columns, their order and jobs_by_run are unchanged.
    {6, R"sql(
CREATE TABLE jobs_v6(id TEXT PRIMARY KEY, run_id TEXT NOT NULL, seq INTEGER NOT NULL,
  name TEXT NOT NULL, kind TEXT NOT NULL, framework TEXT NOT NULL, target TEXT NOT NULL,
  state TEXT NOT NULL, required_tags_json TEXT NOT NULL, missing_tags_json TEXT NOT NULL,
  needs_json TEXT NOT NULL, task_json TEXT NOT NULL, attempt INTEGER NOT NULL,
  infra_failures INTEGER NOT NULL, job_failures INTEGER NOT NULL, worker_id TEXT NOT NULL,
  result_json TEXT NOT NULL, artifacts_json TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO jobs_v6 SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v6 RENAME TO jobs;
CREATE INDEX jobs_by_run ON jobs(run_id, seq);
CREATE TABLE attempts_v6(job_id TEXT NOT NULL, attempt INTEGER NOT NULL,
  worker_id TEXT NOT NULL, lease_sha256 TEXT NOT NULL, state TEXT NOT NULL,
  outcome TEXT NOT NULL, reason TEXT NOT NULL, exit_code INTEGER NOT NULL,
  term_signal INTEGER NOT NULL, started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL,
  peak_rss_bytes INTEGER NOT NULL, cpu_seconds REAL NOT NULL, log_bytes INTEGER NOT NULL,
  PRIMARY KEY(job_id, attempt)) WITHOUT ROWID;
INSERT INTO attempts_v6 SELECT * FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v6 RENAME TO attempts;
)sql"},
};

}  // namespace edgefarm::coordinator
