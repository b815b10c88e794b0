// Scheduler: the worker side of the session protocol (docs/protocol.md).
//
// Implementation notes:
// - A worker restored from the store after a restart is asked to register again whatever it
//   sends first; its Register carries the jobs it still runs, and its Welcome triggers the re-send
//   of results it has not had acknowledged.
// - The ROUTER identity is the worker id; Register must name the same id, so one worker cannot
//   speak for another's jobs. Messages other than Register from an identity that is not a live
//   registered worker get ErrorReply{not_registered}, which tells the worker to register again.
// - Leases are checked by attempt number and the sha256 of the token; a message for an older
//   attempt or with another token is stale. A result repeated for an attempt that already ended
//   with the same token is acknowledged again (the worker may have missed the first ack).
#include <nlohmann/json.hpp>

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/scheduler.h"
#include "edgefarm/proto/frame_codec.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

bool IsSafeArtifactName(const std::string& name) {
  if (name.empty() || name.size() > 512 || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view part(name.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return name.find('\0') == std::string::npos && name.find('\\') == std::string::npos;
}

// A routing id as it may appear in a log line: printable ids as they are, others as hex.
std::string PrintableId(const std::string& id) {
  bool printable = id.size() <= 128;
  for (unsigned char c : id) printable = printable && c >= 0x20 && c < 0x7f;
  if (printable) return id;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (size_t i = 0; i < id.size() && i < 32; ++i) {
    out.push_back(kHex[static_cast<unsigned char>(id[i]) >> 4]);
    out.push_back(kHex[static_cast<unsigned char>(id[i]) & 0xf]);
  }
  return out;
}

std::string OutcomeName(v1::Outcome outcome) {
  switch (outcome) {
    case v1::OUTCOME_SUCCEEDED:
      return "succeeded";
    case v1::OUTCOME_FAILED:
      return "failed";
    case v1::OUTCOME_TIMED_OUT:
      return "timed_out";
    case v1::OUTCOME_CANCELLED:
      return "cancelled";
    case v1::OUTCOME_INFRA_ERROR:
      return "infra_error";
    default:
      return "";
  }
}

}  // namespace

void Scheduler::SendError(const std::string& identity, const std::string& code,
                          const std::string& message) {
  ++protocol_errors_;
  // Unregistered peers can send these at will: log a bounded number, like bad frames.
  if (protocol_errors_ <= 100 || protocol_errors_ % 1000 == 0) {
    logger_->warn("refusing message #{} from peer {}: {}: {}", protocol_errors_,
                  PrintableId(identity), code, message);
  }
  v1::Envelope env;
  env.mutable_error()->set_code(code);
  env.mutable_error()->set_message(message);
  Send(identity, std::move(env));
}

void Scheduler::HandleMessage(const std::string& identity, const v1::Envelope& env) {
  if (env.has_register_()) {
    OnRegister(identity, env.register_());
    return;
  }
  auto it = workers_.find(identity);
  if (it == workers_.end() || it->second.record.state == WorkerState::kLost) {
    SendError(identity, "not_registered",
              "register before sending " + std::string(proto::BodyName(env)));
    return;
  }
  WorkerSession& worker = it->second;
  if (!worker.connected) {
    // Restored from the store after a restart: this session predates it. Messages the worker sent
    // just before the crash (a result, log chunks) may be lost, and it re-sends them only after a
    // Welcome, so it must register again (listing its running jobs) before anything else counts.
    SendError(identity, "not_registered", "the coordinator restarted; register again");
    return;
  }
  worker.lost_after =
      clock_->SteadyNow() + options_.heartbeat_interval * options_.missed_heartbeats;
  worker.record.last_seen_ms = clock_->UnixMillis();
  switch (env.body_case()) {
    case v1::Envelope::kHeartbeat:
      OnHeartbeat(worker, env.heartbeat());
      break;
    case v1::Envelope::kAccept:
      OnAccept(worker, env.accept());
      break;
    case v1::Envelope::kReject:
      OnReject(worker, env.reject());
      break;
    case v1::Envelope::kLogChunk:
      OnLogChunk(worker, env.log_chunk());
      break;
    case v1::Envelope::kResult:
      OnResult(worker, env.result());
      break;
    case v1::Envelope::kGoodbye:
      MarkWorkerLost(worker, kGoodbyeReason);
      break;
    case v1::Envelope::kError:
      logger_->warn("worker {} reported an error: {}: {}", identity, env.error().code(),
                    env.error().message());
      break;
    default:
      SendError(identity, "unexpected_message", "workers do not send this message");
      break;
  }
}

void Scheduler::OnRegister(const std::string& identity, const v1::Register& msg) {
  if (msg.worker_id().empty() || msg.worker_id() != identity) {
    SendError(identity, "bad_identity", "worker_id must equal the socket's routing id");
    return;
  }
  if (options_.worker_token_sha256.empty() ||
      !ConstantTimeEquals(Sha256Hex(msg.enrol_token()), options_.worker_token_sha256)) {
    SendError(identity, "unauthenticated", "unknown enrol token");
    return;
  }
  if (msg.slots() == 0 || msg.slots() > 1024) {
    SendError(identity, "invalid_argument", "slots must be between 1 and 1024");
    return;
  }
  WorkerSession& worker = workers_[identity];
  const bool known = !worker.record.id.empty();
  worker.record.id = identity;
  worker.record.name = msg.name().empty() ? identity : msg.name();
  worker.record.tags = Tags(msg.tags().begin(), msg.tags().end());
  worker.record.slots = msg.slots();
  worker.record.agent_version = msg.agent_version();
  worker.record.state = WorkerState::kLive;
  worker.record.last_seen_ms = clock_->UnixMillis();
  worker.connected = true;
  worker.lost_after =
      clock_->SteadyNow() + options_.heartbeat_interval * options_.missed_heartbeats;
  dirty_workers_.insert(identity);
  AddEvent("worker.registered", identity,
           json{{"tags", worker.record.tags}, {"slots", worker.record.slots}, {"reconnect", known}}
               .dump());
  logger_->info("worker {} registered ({} slots, {} tags)", identity, msg.slots(),
                worker.record.tags.size());
  v1::Envelope env;
  v1::Welcome* welcome = env.mutable_welcome();
  welcome->set_heartbeat_interval_ms(static_cast<uint32_t>(options_.heartbeat_interval.count()));
  welcome->set_lease_ttl_ms(static_cast<uint32_t>(options_.lease_ttl.count()));
  welcome->set_blob_url(options_.blob_url);
  ReconcileRunning(worker, msg, *welcome);
  Send(identity, std::move(env));
  ReevaluateUnschedulable();
}

// Keeps the attempts the worker still runs with a current lease; everything else this worker held
// ended with its previous session, and reported jobs we do not own are listed for it to kill.
void Scheduler::ReconcileRunning(WorkerSession& worker, const v1::Register& msg,
                                 v1::Welcome& welcome) {
  std::set<std::string> kept;
  for (const auto& running : msg.running()) {
    std::string why;
    AttemptRecord* attempt =
        ValidLease(worker, running.job_id(), running.attempt(), running.lease_token(), &why);
    if (attempt == nullptr) {
      welcome.add_unknown_jobs(running.job_id());
      continue;
    }
    kept.insert(running.job_id());
    worker.running.insert(running.job_id());
    if (attempt->state == AttemptState::kAssigned) {
      // Its Accept was lost with the previous session; the worker runs it, so the accept window
      // no longer applies.
      attempt->state = AttemptState::kRunning;
      dirty_attempts_.insert({attempt->job_id, attempt->attempt});
      SetJobState(jobs_[attempt->job_id], JobState::kRunning);
    }
    leases_[{attempt->job_id, attempt->attempt}].deadline =
        clock_->SteadyNow() + options_.lease_ttl;
  }
  const std::set<std::string> held = worker.running;
  for (const auto& job_id : held) {
    if (kept.count(job_id)) continue;
    JobRecord& job = jobs_[job_id];
    AttemptRecord* attempt = CurrentAttempt(job);
    if (attempt != nullptr && attempt->state != AttemptState::kFinished) {
      InfraFailure(job, *attempt, "worker " + worker.record.id + " re-registered without it");
    }
    worker.running.erase(job_id);
  }
}

AttemptRecord* Scheduler::ValidLease(const WorkerSession& worker, const std::string& job_id,
                                     uint32_t attempt_no, const std::string& lease_token,
                                     std::string* why) {
  auto job = jobs_.find(job_id);
  if (job == jobs_.end()) {
    *why = "unknown job";
    return nullptr;
  }
  auto attempt = attempts_.find({job_id, attempt_no});
  if (attempt == attempts_.end() || attempt_no != job->second.attempt) {
    *why = "stale attempt";
    return nullptr;
  }
  AttemptRecord& a = attempt->second;
  // A live attempt this process assigned keeps its plain token: no hash per message.
  auto lease = leases_.find(attempt->first);
  const bool token_ok = lease != leases_.end() && !lease->second.token.empty()
                            ? ConstantTimeEquals(lease_token, lease->second.token)
                            : ConstantTimeEquals(Sha256Hex(lease_token), a.lease_hash);
  if (a.worker_id != worker.record.id || !token_ok) {
    *why = "stale lease token";
    return nullptr;
  }
  if (a.state == AttemptState::kFinished) {
    *why = "attempt already finished";
    return nullptr;
  }
  return &a;
}

void Scheduler::OnHeartbeat(WorkerSession& worker, const v1::Heartbeat& msg) {
  v1::Envelope env;
  v1::HeartbeatAck* ack = env.mutable_heartbeat_ack();
  for (const auto& lease : msg.leases()) {
    std::string why;
    AttemptRecord* attempt =
        ValidLease(worker, lease.job_id(), lease.attempt(), lease.lease_token(), &why);
    if (attempt == nullptr) {
      ack->add_revoked_jobs(lease.job_id());
      continue;
    }
    leases_[{attempt->job_id, attempt->attempt}].deadline =
        clock_->SteadyNow() + options_.lease_ttl;
  }
  Send(worker.record.id, std::move(env));
}

void Scheduler::OnAccept(WorkerSession& worker, const v1::Accept& msg) {
  std::string why;
  AttemptRecord* attempt = ValidLease(worker, msg.job_id(), msg.attempt(), msg.lease_token(), &why);
  if (attempt == nullptr) {
    SendError(worker.record.id, "stale_lease", msg.job_id() + ": " + why);
    return;
  }
  if (attempt->state == AttemptState::kRunning) return;
  attempt->state = AttemptState::kRunning;
  dirty_attempts_.insert({attempt->job_id, attempt->attempt});
  SetJobState(jobs_[msg.job_id()], JobState::kRunning);
}

void Scheduler::OnReject(WorkerSession& worker, const v1::Reject& msg) {
  std::string why;
  AttemptRecord* attempt = ValidLease(worker, msg.job_id(), msg.attempt(), msg.lease_token(), &why);
  if (attempt == nullptr) {
    SendError(worker.record.id, "stale_lease", msg.job_id() + ": " + why);
    return;
  }
  InfraFailure(jobs_[msg.job_id()], *attempt, "rejected by worker: " + msg.reason());
  if (msg.draining() && worker.record.state == WorkerState::kLive) {
    // A worker shutting down (SIGTERM) hands its jobs back before its Goodbye; without this the
    // next pass could assign them to it again and burn their infrastructure retries on refusals.
    worker.record.state = WorkerState::kDraining;
    dirty_workers_.insert(worker.record.id);
    AddEvent("worker.draining", worker.record.id,
             R"({"reason":"the worker refused a job: draining"})");
  }
}

void Scheduler::OnLogChunk(WorkerSession& worker, const v1::LogChunk& msg) {
  std::string why;
  AttemptRecord* attempt = ValidLease(worker, msg.job_id(), msg.attempt(), msg.lease_token(), &why);
  if (attempt == nullptr) {
    SendError(worker.record.id, "stale_lease", msg.job_id() + ": " + why);
    return;
  }
  auto appended =
      logs_->Append(msg.job_id(), msg.attempt(), msg.sequence(), msg.offset(), msg.data());
  if (!appended.ok()) {
    SendError(worker.record.id, "log_out_of_order", appended.status().message());
    return;
  }
  attempt->log_bytes = logs_->Size(msg.job_id(), msg.attempt());
}

void Scheduler::OnResult(WorkerSession& worker, const v1::JobResult& msg) {
  v1::Envelope env;
  v1::ResultAck* ack = env.mutable_result_ack();
  ack->set_job_id(msg.job_id());
  ack->set_attempt(msg.attempt());
  std::string why;
  AttemptRecord* attempt = ValidLease(worker, msg.job_id(), msg.attempt(), msg.lease_token(), &why);
  if (attempt == nullptr) {
    // A job of a run that finished before a restart is only in the store: a result repeated for
    // it (the ack was lost in the crash) is still a duplicate, not an unknown job.
    const AttemptRecord* done = nullptr;
    for (const AttemptRecord* a : AttemptsOf(msg.job_id())) {
      if (a->attempt == msg.attempt() && a->worker_id == worker.record.id) done = a;
    }
    bool repeat = (why == "attempt already finished" || why == "unknown job") && done != nullptr &&
                  done->state == AttemptState::kFinished &&
                  ConstantTimeEquals(Sha256Hex(msg.lease_token()), done->lease_hash) &&
                  done->outcome == OutcomeName(msg.outcome());
    ack->set_accepted(repeat);
    ack->set_reason(repeat ? "duplicate result" : why);
    if (!repeat) ++protocol_errors_;
    Send(worker.record.id, std::move(env));
    return;
  }
  std::string invalid;
  if (OutcomeName(msg.outcome()).empty()) invalid = "result has no outcome";
  for (const auto& artifact : msg.artifacts()) {
    if (!IsSafeArtifactName(artifact.name())) {
      invalid = "artifact name is not a safe relative path";
    } else if (!IsValidSha256Hex(artifact.digest()) || !blobs_->Contains(artifact.digest())) {
      invalid = "artifact " + artifact.name() + " was not uploaded (unknown digest)";
    }
  }
  if (!invalid.empty()) {
    ++protocol_errors_;
    ack->set_accepted(false);
    ack->set_reason(invalid);
    Send(worker.record.id, std::move(env));
    return;
  }
  ApplyResult(jobs_[msg.job_id()], *attempt, msg);
  ack->set_accepted(true);
  Send(worker.record.id, std::move(env));  // released only after the result is committed
}

void Scheduler::ApplyResult(JobRecord& job, AttemptRecord& attempt, const v1::JobResult& msg) {
  attempt.exit_code = msg.exit_code();
  attempt.term_signal = msg.term_signal();
  attempt.peak_rss_bytes = msg.usage().peak_rss_bytes();
  attempt.cpu_seconds = msg.usage().user_cpu_seconds() + msg.usage().system_cpu_seconds();
  // OnLogChunk keeps log_bytes current for chunks this process appended; a restored attempt may
  // have chunks from before the restart, so its file is measured (a stat per result otherwise).
  auto lease = leases_.find({job.id, attempt.attempt});
  if (lease == leases_.end() || lease->second.restored) {
    attempt.log_bytes = logs_->Size(job.id, attempt.attempt);
  }
  const std::string outcome = OutcomeName(msg.outcome());
  const std::string reason = msg.message();
  switch (msg.outcome()) {
    case v1::OUTCOME_SUCCEEDED:
      EndAttempt(job, attempt, outcome, reason);
      job.result_json = msg.result_json();
      job.artifacts.clear();
      for (const auto& a : msg.artifacts()) {
        job.artifacts.push_back({a.name(), a.digest(), a.size()});
      }
      SetJobState(job, JobState::kSucceeded);
      PromoteDependents(job);
      break;
    case v1::OUTCOME_INFRA_ERROR:
      InfraFailure(job, attempt, reason);
      break;
    case v1::OUTCOME_CANCELLED:
      EndAttempt(job, attempt, outcome, reason);
      SetJobState(job, JobState::kCancelled, reason);
      PromoteDependents(job);
      break;
    default:
      JobFailure(job, attempt, outcome, reason.empty() ? outcome : reason);
      break;
  }
}

}  // namespace edgefarm::coordinator
