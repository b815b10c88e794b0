// The coordinator process: wires the store, blob store, logs, tokens, scheduler, ZeroMQ transport
// and HTTP API together and runs the loop.
//
// One loop thread owns the ZeroMQ socket. It waits up to poll_interval for messages, decodes each
// frame (garbage, wrong versions, oversize and multi-frame messages are counted in bad_frames(),
// logged and dropped), hands good ones to the scheduler, ticks it and queues the iteration's
// changes for a writer thread (CommitQueue: own sqlite connection, commits in order, overlapped
// with the next iteration); it sends a batch's messages only after the writer committed it.
// HTTP handlers share the scheduler under a mutex and never touch the socket; their synchronous
// flushes go through the same queue, and what they stage goes out once committed, sooner when
// they wake the loop (Transport::Wake). A submitted run is committed with the loop's next batch,
// not a transaction of its own, and acknowledged once that batch is durable.
//
// Start() writes DATA/endpoints.json ({"zmq":..., "http":...}) atomically once both listeners are
// bound. Thread-safety: Start/Stop from one owning thread; accessors are thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

class BlobStore;
class CommitQueue;
class ControlStore;
class HttpApi;
class LogStore;
class PromotionService;
struct PromotionServiceOptions;
class SqliteStore;
class TokenSet;
class Transport;
class TriggerService;

struct CoordinatorOptions {
  std::filesystem::path data_dir;
  std::string zmq_listen = "tcp://127.0.0.1:0";
  std::string http_host = "127.0.0.1";
  int http_port = 0;
  // Base URL workers use for blobs; empty: the bound HTTP address.
  std::string public_http_url;
  std::string native_target;
  SchedulerOptions scheduler;  // blob_url and worker_token_sha256 are filled in by Start()
  uint64_t max_blob_bytes = uint64_t{4} << 30;
  size_t max_request_bytes = 8 * 1024 * 1024;
  std::chrono::milliseconds poll_interval{20};
  // True: the loop commits each iteration itself and waits for it (no writer thread), as before
  // the commit queue; for measurements (edgefarm-bench-scheduler --serial-commit).
  bool serial_commit = false;
  // Repositories to register at start ({"repositories":[...]}, see docs/api.md); empty: none.
  std::filesystem::path repos_file;
  // How often the trigger thread re-checks poll deadlines (time itself comes from the Clock).
  std::chrono::milliseconds trigger_wake_interval{100};
  // Adjusts the promotion service's options before it starts (tests: in-process slots, short
  // phase timings). Empty: the defaults (promotion_service.h).
  std::function<void(PromotionServiceOptions&)> promotion_setup;
};

class Coordinator {
 public:
  // clock must outlive the coordinator.
  Coordinator(CoordinatorOptions options, const Clock* clock,
              std::shared_ptr<spdlog::logger> logger);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Opens DATA, restores state, binds both listeners, writes endpoints.json, starts the threads.
  Status Start();
  // Stops serving and joins the threads; idempotent.
  void Stop();

  std::string zmq_endpoint() const { return zmq_endpoint_; }  // "tcp://127.0.0.1:PORT"
  std::string http_url() const { return http_url_; }          // "http://127.0.0.1:PORT"
  int64_t bad_frames() const { return bad_frames_.load(); }

  // Submits a run through the loop's group commit: staged under the lock, the loop woken, and
  // returned once the loop's transaction that holds it is durable (so the caller may acknowledge
  // it). DeadlineExceeded if no commit succeeds within `timeout` (the run stays staged and is
  // committed by a later flush); InvalidArgument as Scheduler::SubmitRun. Only after Start().
  Result<std::string> SubmitRun(PlannedRun planned,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Stages a run and wakes the loop without waiting for its commit (benchmarks that stand for
  // many concurrent clients). Nothing about the run may be acknowledged on this return.
  Result<std::string> StageRun(PlannedRun planned);

  // Runs fn with the scheduler under the coordinator's lock, between loop iterations (embedding,
  // tests and benchmarks: submit runs, read state). Messages fn stages go out on the next
  // iteration. Only after a successful Start().
  void WithScheduler(const std::function<void(Scheduler&)>& fn) {
    std::lock_guard lock(mu_);
    fn(*scheduler_);
  }

 private:
  Status OpenData();
  Status OpenControl();
  Status StartPromotions();  // promotion_service.h; its thread runs until Stop()
  Status StartWriter();      // the CommitQueue on its own connection; runs until Stop()
  Status WriteEndpoints() const;
  void Loop();
  void HandleInbound(const std::string& identity, const std::vector<std::string>& frames);
  std::vector<Outbound> CommitIteration();  // under mu_: queue or commit; returns what to send
  void CountBadFrame(const std::string& identity, const std::string& why);

  CoordinatorOptions options_;
  const Clock* clock_;
  std::shared_ptr<spdlog::logger> logger_;

  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<TokenSet> tokens_;
  std::unique_ptr<SqliteStore> writer_store_;  // the writer thread's connection
  std::unique_ptr<CommitQueue> commits_;       // commits in order for the loop and the flushes
  std::mutex mu_;                              // guards scheduler_
  std::condition_variable flushed_;            // serial_commit only: notified after each loop flush
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<HttpApi> http_;
  std::unique_ptr<ControlStore> control_;         // tokens, audit, repositories (DATA/control.db)
  std::unique_ptr<TriggerService> triggers_;      // webhooks and polling
  std::unique_ptr<PromotionService> promotions_;  // verdicts, staging, promotions (issue 6)

  std::string zmq_endpoint_;
  std::string http_url_;
  std::atomic<int64_t> bad_frames_{0};
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

}  // namespace edgefarm::coordinator
