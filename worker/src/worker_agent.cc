// Worker agent: slot accounting, job threads and at-least-once result delivery.
//
// A result (and its attempt's log chunks) is kept until a ResultAck names it; every Welcome (a new
// or re-established session) re-sends them all, so a coordinator restart or network cut loses
// none. The coordinator ignores duplicates by attempt, sequence and lease token. Log chunks,
// results and re-sends all go out under mu_, so their order is the order they were made. Jobs are
// keyed by job id and attempt so a re-assignment of the same job (a later attempt) never collides
// with a lingering one.
//
// Deadlines are enforced through the job's CancelFlag (the same SIGTERM, grace, SIGKILL path as a
// cancel) with a mark on the job, so the result can say TIMED_OUT instead of CANCELLED. The
// watcher polls the clock rather than sleeping until the earliest deadline because an injected
// clock may jump without waking anyone.
#include "edgefarm/worker/worker_agent.h"

#include <spdlog/spdlog.h>

#include "edgefarm/proto/frame_codec.h"

namespace edgefarm::worker {

WorkerAgent::WorkerAgent(AgentOptions options, JobExecutor& executor,
                         std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      executor_(executor),
      logger_(logger ? std::move(logger) : spdlog::default_logger()),
      watcher_([this] { WatchDeadlines(); }) {}

WorkerAgent::~WorkerAgent() {
  Shutdown();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_watcher_ = true;
  }
  changed_.notify_all();
  watcher_.join();
}

void WorkerAgent::WatchDeadlines() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_watcher_) {
    CheckDeadlinesLocked();
    changed_.wait_for(lock, options_.deadline_tick);
  }
}

void WorkerAgent::CheckDeadlinesLocked() {
  const Clock& clock = options_.clock ? *options_.clock : SystemClock::Instance();
  const int64_t now = clock.UnixMillis();
  for (auto& [key, job] : jobs_) {
    // A job without a timeout has no deadline (0 from this coordinator; an older one sent
    // assignment time + 0, so the timeout decides).
    const int64_t deadline =
        job->assign.spec().timeout_seconds() > 0 ? job->assign.deadline_unix_ms() : 0;
    if (job->finished || job->deadline_passed || deadline <= 0 || now < deadline) continue;
    job->deadline_passed = true;
    logger_->info("stopping {} attempt {}: its deadline passed {} ms ago", job->assign.job_id(),
                  job->assign.attempt(), now - deadline);
    job->cancel.Cancel();
  }
}

void WorkerAgent::FinishResultLocked(const Job& job, v1::JobResult& result) const {
  if (job.deadline_passed && result.outcome() == v1::OUTCOME_CANCELLED) {
    const bool never_started = result.message() == kCancelledBeforeStart;
    result.set_outcome(v1::OUTCOME_TIMED_OUT);
    result.set_message(never_started ? "deadline passed before the job started"
                                     : "deadline passed; the job was stopped");
  } else if (shutting_down_ && result.outcome() == v1::OUTCOME_CANCELLED) {
    // Stopped because this worker is going away, not because anyone cancelled the job: the
    // coordinator should run it again elsewhere.
    result.set_outcome(v1::OUTCOME_INFRA_ERROR);
    result.set_message("worker stopped while the job was running");
  }
}

std::string WorkerAgent::Key(const std::string& job_id, uint32_t attempt) {
  return job_id + "#" + std::to_string(attempt);
}

void WorkerAgent::Send(v1::Envelope message) {
  if (session_ != nullptr) session_->Send(std::move(message));
}

void WorkerAgent::OnMessage(const v1::Envelope& message) {
  switch (message.body_case()) {
    case v1::Envelope::kWelcome: {
      {
        std::lock_guard<std::mutex> lock(mu_);
        blob_url_ = message.welcome().blob_url();
        ResendLocked();
      }
      for (const std::string& job_id : message.welcome().unknown_jobs()) {
        CancelJob(job_id, "coordinator no longer owns it");
      }
      break;
    }
    case v1::Envelope::kAssign:
      OnAssign(message.assign());
      break;
    case v1::Envelope::kCancel:
      CancelJob(message.cancel().job_id(), "cancelled: " + message.cancel().reason());
      break;
    case v1::Envelope::kHeartbeatAck:
      for (const std::string& job_id : message.heartbeat_ack().revoked_jobs()) {
        CancelJob(job_id, "lease revoked");
      }
      break;
    case v1::Envelope::kResultAck: {
      const v1::ResultAck& ack = message.result_ack();
      if (!ack.accepted()) {
        logger_->warn("coordinator refused result of {} attempt {}: {}", ack.job_id(),
                      ack.attempt(), ack.reason());
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        unacked_.erase(Key(ack.job_id(), ack.attempt()));
        retained_logs_.erase(Key(ack.job_id(), ack.attempt()));
      }
      changed_.notify_all();
      break;
    }
    case v1::Envelope::kDrain: {
      std::lock_guard<std::mutex> lock(mu_);
      draining_ = true;
      logger_->info("draining: finishing current jobs, taking no more");
      break;
    }
    case v1::Envelope::kError:
      logger_->warn("coordinator error {}: {}", message.error().code(), message.error().message());
      break;
    default:
      logger_->debug("ignoring {} from coordinator", proto::BodyName(message));
  }
}

void WorkerAgent::OnAssign(const v1::Assign& assign) {
  v1::Envelope reply;
  std::unique_lock<std::mutex> lock(mu_);
  ReapFinishedLocked();
  const std::string key = Key(assign.job_id(), assign.attempt());
  std::string refusal;
  bool start = false;
  if (jobs_.count(key) || unacked_.count(key)) {
    refusal = "";  // a repeated Assign: accept again, run once
  } else if (draining_) {
    refusal = "worker is draining";
  } else if (jobs_.size() >= options_.slots) {
    refusal = "no free slot";
  }
  if (!refusal.empty()) {
    v1::Reject* reject = reply.mutable_reject();
    reject->set_job_id(assign.job_id());
    reject->set_attempt(assign.attempt());
    reject->set_lease_token(assign.lease_token());
    reject->set_reason(refusal);
    reject->set_draining(draining_);
  } else {
    v1::Accept* accept = reply.mutable_accept();
    accept->set_job_id(assign.job_id());
    accept->set_attempt(assign.attempt());
    accept->set_lease_token(assign.lease_token());
    start = !jobs_.count(key) && !unacked_.count(key);
    if (start) {
      auto job = std::make_unique<Job>();
      job->assign = assign;
      jobs_[key] = std::move(job);
      CheckDeadlinesLocked();  // a deadline already past: the job is cancelled before it starts
    }
  }
  lock.unlock();
  // Accept goes out before the job can produce log chunks or a result.
  Send(std::move(reply));
  if (!start) return;
  lock.lock();
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;  // shut down in the meantime
  Job* raw = it->second.get();
  raw->thread = std::thread([this, raw] { RunJob(raw); });
  logger_->info("accepted {} ({}) attempt {}", assign.job_id(), assign.spec().name(),
                assign.attempt());
}

void WorkerAgent::RunJob(Job* job) {
  std::string blob_url;
  {
    std::lock_guard<std::mutex> lock(mu_);
    blob_url = blob_url_;
  }
  const BlobEndpoint blobs{blob_url, options_.worker_token};
  const std::string key = Key(job->assign.job_id(), job->assign.attempt());
  auto send_log = [this, &key](v1::LogChunk chunk) {
    std::lock_guard<std::mutex> lock(mu_);
    RetainedLog& retained = retained_logs_[key];
    if (!retained.overflowed && retained.bytes + chunk.data().size() <= kMaxRetainedLogBytes) {
      retained.bytes += chunk.data().size();
      retained.chunks.push_back(chunk);
    } else {
      retained.overflowed = true;  // a reconnect may now leave a gap in this log
    }
    v1::Envelope env;
    *env.mutable_log_chunk() = std::move(chunk);
    Send(std::move(env));
  };
  v1::JobResult result = executor_.Execute(job->assign, blobs, send_log, job->cancel);
  {
    std::lock_guard<std::mutex> lock(mu_);
    FinishResultLocked(*job, result);
    unacked_[Key(result.job_id(), result.attempt())] = result;
    job->finished = true;
    // Sent under the lock so it cannot overtake log chunks re-sent after a reconnect.
    v1::Envelope env;
    *env.mutable_result() = std::move(result);
    Send(std::move(env));
  }
}

void WorkerAgent::ResendLocked() {
  // Chunks and results written into a socket that was then dropped are lost, so after every
  // (re-)registration the coordinator gets everything it has not acknowledged again, logs first.
  // It ignores chunks it already has and results it already recorded.
  for (const auto& [key, retained] : retained_logs_) {
    for (const v1::LogChunk& chunk : retained.chunks) {
      v1::Envelope env;
      *env.mutable_log_chunk() = chunk;
      Send(std::move(env));
    }
  }
  for (const auto& [key, result] : unacked_) {
    v1::Envelope env;
    *env.mutable_result() = result;
    Send(std::move(env));
  }
}

void WorkerAgent::CancelJob(const std::string& job_id, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, job] : jobs_) {
    if (job->assign.job_id() == job_id && !job->finished) {
      logger_->info("stopping {}: {}", job_id, why);
      job->cancel.Cancel();
    }
  }
}

void WorkerAgent::ReapFinishedLocked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->finished) {
      // `finished` is set just before the thread sends its result and returns; the join is short.
      if (it->second->thread.joinable()) it->second->thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<v1::RunningJob> WorkerAgent::RunningJobs() {
  std::lock_guard<std::mutex> lock(mu_);
  ReapFinishedLocked();
  std::vector<v1::RunningJob> out;
  auto add = [&](const std::string& job_id, uint32_t attempt, const std::string& lease) {
    v1::RunningJob job;
    job.set_job_id(job_id);
    job.set_attempt(attempt);
    job.set_lease_token(lease);
    out.push_back(std::move(job));
  };
  for (const auto& [key, job] : jobs_) {
    add(job->assign.job_id(), job->assign.attempt(), job->assign.lease_token());
  }
  // A finished attempt keeps its lease until the coordinator has its result.
  for (const auto& [key, result] : unacked_) {
    if (!jobs_.count(key)) add(result.job_id(), result.attempt(), result.lease_token());
  }
  return out;
}

uint32_t WorkerAgent::FreeSlots() {
  std::lock_guard<std::mutex> lock(mu_);
  ReapFinishedLocked();
  if (draining_) return 0;
  return jobs_.size() >= options_.slots ? 0 : options_.slots - static_cast<uint32_t>(jobs_.size());
}

void WorkerAgent::Shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    shutting_down_ = true;
    for (auto& [key, job] : jobs_) {
      job->cancel.Cancel();
      if (job->thread.joinable()) threads.push_back(std::move(job->thread));
    }
  }
  for (std::thread& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.clear();
}

bool WorkerAgent::WaitForAcknowledgements(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, limit, [this] { return unacked_.empty(); });
}

bool WorkerAgent::drained() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!draining_ || !unacked_.empty()) return false;
  for (const auto& [key, job] : jobs_) {
    if (!job->finished) return false;
  }
  return true;
}

size_t WorkerAgent::running_jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [key, job] : jobs_) n += job->finished ? 0 : 1;
  return n;
}

size_t WorkerAgent::unacknowledged_results() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unacked_.size();
}

}  // namespace edgefarm::worker
