// The write side of SqliteStore's commits: one prepared statement per row kind, reused through
// the writer's StatementCache, and the rule that keeps an active job's progress in its attempt
// row.
#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "sqlite_store_rows.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;
using Statement = StoreStatement;

// Event rows per INSERT statement (4 parameters each, far below SQLITE_MAX_VARIABLE_NUMBER).
constexpr size_t kEventsPerInsert = 32;

json InputsToJson(const std::vector<InputRef>& inputs) {
  json out = json::array();
  for (const auto& in : inputs) {
    out.push_back({{"name", in.name}, {"digest", in.digest}, {"size", in.size}});
  }
  return out;
}

json ArtifactsToJson(const std::vector<ArtifactRef>& artifacts) {
  json out = json::array();
  for (const auto& a : artifacts) {
    out.push_back({{"name", a.name}, {"digest", a.digest}, {"size", a.size}});
  }
  return out;
}

std::string JsonList(const std::vector<std::string>& items) {
  return items.empty() ? "[]" : json(items).dump();
}

std::string ArtifactsText(const std::vector<ArtifactRef>& artifacts) {
  return artifacts.empty() ? "[]" : ArtifactsToJson(artifacts).dump();
}

std::string TaskJson(const JobRecord& job) {
  json task = {{"engine_job_json", job.engine_job_json},
               {"argv", job.argv},
               {"env", job.env},
               {"inputs", InputsToJson(job.inputs)},
               {"timeout_seconds", job.timeout_seconds},
               {"retry_infra", job.retry_infra},
               {"retry_job", job.retry_job}};
  if (!job.resource_group.empty()) task["resource_group"] = job.resource_group;
  return task.dump();
}

Status WriteJob(StatementCache& db, const JobRecord& j) {
  Statement s(db, "INSERT OR REPLACE INTO jobs VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  return s.BindUnowned(j.id)
      .BindUnowned(j.run_id)
      .Bind(int64_t{j.seq})
      .BindUnowned(j.name)
      .BindUnowned(j.is_engine ? "engine" : "command")
      .BindUnowned(j.framework)
      .BindUnowned(j.target)
      .BindUnowned(ToString(j.state))
      .BindUnowned(json(j.required_tags).dump())
      .BindUnowned(JsonList(j.missing_tags))
      .BindUnowned(JsonList(j.needs))
      .BindUnowned(TaskJson(j))
      .Bind(int64_t{j.attempt})
      .Bind(int64_t{j.infra_failures})
      .Bind(int64_t{j.job_failures})
      .BindUnowned(j.worker_id)
      .BindUnowned(j.result_json)
      .BindUnowned(ArtifactsText(j.artifacts))
      .Bind(j.created_at_ms)
      .Bind(j.finished_at_ms)
      .Run();
}

Status WriteJobProgress(StatementCache& db, const JobProgress& j) {
  Statement s(db,
              "UPDATE jobs SET state=?, missing_tags_json=?, attempt=?, infra_failures=?, "
              "job_failures=?, worker_id=?, result_json=?, artifacts_json=?, finished_at_ms=? "
              "WHERE id=?");
  return s.BindUnowned(ToString(j.state))
      .BindUnowned(JsonList(j.missing_tags))
      .Bind(int64_t{j.attempt})
      .Bind(int64_t{j.infra_failures})
      .Bind(int64_t{j.job_failures})
      .BindUnowned(j.worker_id)
      .BindUnowned(j.result_json)
      .BindUnowned(ArtifactsText(j.artifacts))
      .Bind(j.finished_at_ms)
      .BindUnowned(j.id)
      .Run();
}

Status WriteRunState(StatementCache& db, const RunStateChange& r) {
  Statement s(db, "UPDATE runs SET state=?, finished_at_ms=? WHERE id=?");
  return s.BindUnowned(ToString(r.state)).Bind(r.finished_at_ms).BindUnowned(r.id).Run();
}

Status WriteRun(StatementCache& db, const RunRecord& r) {
  Statement s(db, "INSERT OR REPLACE INTO runs VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  return s.BindUnowned(r.id)
      .BindUnowned(r.name)
      .BindUnowned(ToString(r.state))
      .BindUnowned(r.pipeline_file)
      .BindUnowned(r.pipeline_yaml)
      .BindUnowned(json(r.files).dump())
      .Bind(r.created_at_ms)
      .Bind(r.finished_at_ms)
      .Bind(int64_t{r.priority})
      .Bind(int64_t{r.max_running})
      .BindUnowned(r.repository)
      .Run();
}

Status WriteAttempt(StatementCache& db, const AttemptRecord& a) {
  // An upsert: an existing attempt is updated in place (REPLACE would delete and re-insert).
  Statement s(db,
              "INSERT INTO attempts VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
              "ON CONFLICT(job_id, attempt) DO UPDATE SET worker_id=excluded.worker_id, "
              "lease_sha256=excluded.lease_sha256, state=excluded.state, "
              "outcome=excluded.outcome, reason=excluded.reason, exit_code=excluded.exit_code, "
              "term_signal=excluded.term_signal, started_at_ms=excluded.started_at_ms, "
              "finished_at_ms=excluded.finished_at_ms, peak_rss_bytes=excluded.peak_rss_bytes, "
              "cpu_seconds=excluded.cpu_seconds, log_bytes=excluded.log_bytes");
  return s.BindUnowned(a.job_id)
      .Bind(int64_t{a.attempt})
      .BindUnowned(a.worker_id)
      .BindUnowned(a.lease_hash)
      .BindUnowned(ToString(a.state))
      .BindUnowned(a.outcome)
      .BindUnowned(a.reason)
      .Bind(int64_t{a.exit_code})
      .Bind(int64_t{a.term_signal})
      .Bind(a.started_at_ms)
      .Bind(a.finished_at_ms)
      .Bind(static_cast<int64_t>(a.peak_rss_bytes))
      .Bind(a.cpu_seconds)
      .Bind(static_cast<int64_t>(a.log_bytes))
      .Run();
}

Status WriteWorker(StatementCache& db, const WorkerRecord& w) {
  Statement s(db, "INSERT OR REPLACE INTO workers VALUES(?,?,?,?,?,?,?)");
  return s.BindUnowned(w.id)
      .BindUnowned(w.name)
      .BindUnowned(json(w.tags).dump())
      .Bind(int64_t{w.slots})
      .BindUnowned(ToString(w.state))
      .BindUnowned(w.agent_version)
      .Bind(w.last_seen_ms)
      .Run();
}

// INSERT INTO events ... VALUES(?,?,?,?),(?,?,?,?),... with `rows` rows; built once per size and
// kept for the process (the statement cache is keyed by the text's address).
const char* EventInsertSql(size_t rows) {
  static const auto* texts = [] {
    auto* out = new std::array<std::string, kEventsPerInsert + 1>();
    for (size_t n = 1; n <= kEventsPerInsert; ++n) {
      std::string sql = "INSERT INTO events(at_ms, kind, subject, detail_json) VALUES(?,?,?,?)";
      for (size_t i = 1; i < n; ++i) sql += ",(?,?,?,?)";
      (*out)[n] = std::move(sql);
    }
    return out;
  }();
  return (*texts)[rows].c_str();
}

// Events go in kEventsPerInsert rows to a statement: the per-statement cost (and the
// sqlite_sequence update of AUTOINCREMENT) is paid once per chunk instead of once per row. Ids
// are assigned in row order, so the log keeps the order of the change set.
Status WriteEvents(StatementCache& db, const std::vector<EventRecord>& events) {
  for (size_t at = 0; at < events.size(); at += kEventsPerInsert) {
    const size_t rows = std::min(kEventsPerInsert, events.size() - at);
    Statement s(db, EventInsertSql(rows));
    for (size_t i = at; i < at + rows; ++i) {
      const EventRecord& e = events[i];
      s.Bind(e.at_ms).BindUnowned(e.kind).BindUnowned(e.subject).BindUnowned(e.detail);
    }
    EF_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Status WriteRest(StatementCache& db, const ChangeSet& c) {
  for (const auto& b : c.blobs) {
    Statement s(db, "INSERT OR REPLACE INTO blobs VALUES(?,?,?)");
    EF_RETURN_IF_ERROR(
        s.BindUnowned(b.digest).Bind(static_cast<int64_t>(b.size)).Bind(b.created_at_ms).Run());
  }
  for (const auto& t : c.tokens) {
    Statement s(db, "INSERT OR REPLACE INTO tokens VALUES(?,?,?)");
    EF_RETURN_IF_ERROR(s.BindUnowned(t.sha256).BindUnowned(t.role).Bind(t.created_at_ms).Run());
  }
  return WriteEvents(db, c.events);
}

// While a job has an active attempt (assigned or running), the attempt's row is the durable
// record of the job's progress: its number, worker and state. The job's own row is not rewritten
// then; it keeps the progress from before the assignment until the attempt ends, and reading the
// job back folds the active attempt in (FoldActiveAttempts). The attempt row is written in the
// same transaction either way, so one row update per assignment is saved. It is a scattered one:
// runs that share the workers fairly have their assignments spread over every queued run, so
// each update dirtied a leaf of the jobs table that little else in the commit touched.
using ActiveAttempts = std::unordered_map<std::string_view, uint32_t>;  // job id -> attempt

ActiveAttempts ActiveAttemptsOf(const ChangeSet& c) {
  ActiveAttempts active;
  for (const auto& a : c.attempts) {
    if (a.state != AttemptState::kFinished) active[a.job_id] = a.attempt;
  }
  return active;
}

// True if `j` is the progress of an active attempt that the same change set writes.
bool CarriedByAttempt(const JobProgress& j, const ActiveAttempts& active) {
  if (j.state != JobState::kAssigned && j.state != JobState::kRunning) return false;
  auto it = active.find(j.id);
  return it != active.end() && it->second == j.attempt;
}

}  // namespace

Status WriteChanges(StatementCache& cache, const ChangeSet& c) {
  for (const auto& r : c.runs) EF_RETURN_IF_ERROR(WriteRun(cache, r));
  for (const auto& r : c.run_states) EF_RETURN_IF_ERROR(WriteRunState(cache, r));
  for (const auto& j : c.jobs) EF_RETURN_IF_ERROR(WriteJob(cache, j));
  const ActiveAttempts active = ActiveAttemptsOf(c);
  for (const auto& j : c.job_progress) {
    if (!CarriedByAttempt(j, active)) EF_RETURN_IF_ERROR(WriteJobProgress(cache, j));
  }
  for (const auto& a : c.attempts) EF_RETURN_IF_ERROR(WriteAttempt(cache, a));
  for (const auto& w : c.workers) EF_RETURN_IF_ERROR(WriteWorker(cache, w));
  return WriteRest(cache, c);
}

void FoldActiveAttempts(std::vector<JobRecord>& jobs, const std::vector<AttemptRecord>& attempts) {
  std::unordered_map<std::string_view, const AttemptRecord*> latest;
  for (const auto& a : attempts) latest[a.job_id] = &a;
  for (auto& j : jobs) {
    auto it = latest.find(j.id);
    if (it == latest.end() || IsTerminal(j.state)) continue;
    const AttemptRecord& a = *it->second;
    if (a.state == AttemptState::kFinished || a.attempt < j.attempt) continue;
    j.state = a.state == AttemptState::kRunning ? JobState::kRunning : JobState::kAssigned;
    j.attempt = a.attempt;
    j.worker_id = a.worker_id;
    j.missing_tags.clear();
  }
}

}  // namespace edgefarm::coordinator
