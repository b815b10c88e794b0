// The coordinator's HTTP API (/api/v1, the shared contract) on cpp-httplib.
//
// Handlers run on httplib's worker threads. They never touch ZeroMQ: they read and change the
// scheduler under the coordinator's mutex, and what they stage (a new run's Assigns) is sent by
// the loop thread. Writes are durable before the response: a 201 for a run or a blob is sent only
// after Scheduler::Flush() committed it. Errors are {"error":{"code","message"}}; httplib and
// nlohmann exceptions are caught here (500 internal) and never leave this adapter.
//
// Every route checks a bearer token and the permission its role needs (roles.h): 401 for a
// missing or unknown token, 403 for a role that may not. Every mutating request (any method but
// GET/HEAD) is appended to the audit log with who, what, when, from where and the status, just
// before it is answered. JSON bodies over max_request_bytes are refused with 413 before they are
// read. docs/api.md lists every route.
//
// Thread-safety: Bind/Start/Stop from one owning thread; handlers are concurrent.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/control_store.h"
#include "edgefarm/coordinator/log_store.h"
#include "edgefarm/coordinator/scheduler.h"
#include "edgefarm/coordinator/tokens.h"
#include "edgefarm/coordinator/trigger_service.h"

namespace edgefarm::coordinator {

class PromotionService;

// What the handlers share with the coordinator. Everything outlives the HttpApi.
struct ApiContext {
  std::mutex* mu = nullptr;  // guards *scheduler
  Scheduler* scheduler = nullptr;
  // Submits a run and returns once it is durable (the coordinator's group commit). Empty: the
  // handler calls scheduler->SubmitRun under *mu (its own transaction).
  std::function<Result<std::string>(PlannedRun)> submit_run;
  const BlobStore* blobs = nullptr;
  const LogStore* logs = nullptr;
  TokenSet* tokens = nullptr;          // POST /tokens adds to it
  ControlStore* control = nullptr;     // tokens, audit, repositories, run provenance
  TriggerService* triggers = nullptr;  // webhooks and manual triggers
  PromotionService* promotions = nullptr;  // issue 6 routes; nullptr: not served
  const Clock* clock = nullptr;
  const std::atomic<int64_t>* bad_frames = nullptr;
  std::string native_target;
  size_t max_request_bytes = 8 * 1024 * 1024;  // JSON bodies; blobs use BlobStore's limit
  std::shared_ptr<spdlog::logger> logger;
};

class HttpApi {
 public:
  explicit HttpApi(ApiContext context);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds host:port (port 0 picks a free one); returns the bound port.
  Result<int> Bind(const std::string& host, int port);
  // Serves on a background thread until Stop().
  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace edgefarm::coordinator
