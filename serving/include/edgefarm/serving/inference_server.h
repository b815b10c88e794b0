// An HTTP inference server over the engine's LLaMA forward pass (cpp-httplib).
//
// Endpoints (JSON unless noted):
//   POST /v1/completions {"prompt": str, "max_tokens": int = 16, "temperature": num = 0,
//                         "seed": int = 0}
//        -> 200 {"text": str, "tokens": int, "model_digest": str}
//        -> 400 {"error":{"code":"invalid_argument","message":...}} for bad JSON or fields,
//           413 for a body over the limit, 500 {"error":{"code":"injected_fault",..}} when
//           fault injection fails the request, 500 "internal" when generation fails.
//   GET  /health  -> {"ok": true, "model": name, "digest": sha256}
//   GET  /metrics -> Prometheus text: edgefarm_request_duration_seconds histogram, requests and
//                    errors by path and code, tokens generated, injected faults.
//
// Each completion runs engine::Generate, which creates its own LlamaContext, so concurrent
// requests share only the immutable model. HTTP worker threads bound concurrency.
//
// Lifetime: Start() binds and serves on a background thread; Stop() (or the destructor) stops
// accepting, finishes in-flight requests and joins. The server shares ownership of the model.
// Thread-safety: Start/Stop from one controlling thread; handlers run on the pool's threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "edgefarm/common/status.h"
#include "edgefarm/serving/fault_schedule.h"

namespace spdlog {
class logger;
}
namespace edgefarm::engine {
class LlamaModel;
}

namespace edgefarm::serving {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;            // 0 = any free port; port() tells which after Start()
  int http_threads = 4;    // concurrent requests served
  int engine_threads = 1;  // forward-pass threads per request
  int max_tokens_limit = 512;
  size_t max_body_bytes = 1 << 20;
  FaultOptions fault;
};
ServerOptions DefaultServerOptions();

class InferenceServer {
 public:
  // `model_name` and `digest` are reported by /health, /metrics and every completion.
  static Result<std::unique_ptr<InferenceServer>> Create(
      std::shared_ptr<const engine::LlamaModel> model, std::string model_name, std::string digest,
      const ServerOptions& options, std::shared_ptr<spdlog::logger> logger);
  // Loads `path` with the engine and takes its sha256 as the digest. Errors: the engine's
  // NotFound/IoError/InvalidArgument for the file, InvalidArgument for bad options.
  static Result<std::unique_ptr<InferenceServer>> Load(const std::filesystem::path& path,
                                                       const ServerOptions& options,
                                                       std::shared_ptr<spdlog::logger> logger);
  ~InferenceServer();
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  // Binds host:port and starts serving. Errors: IoError when the address cannot be bound,
  // FailedPrecondition when already started.
  Status Start();
  void Stop();
  int port() const;              // the bound port; 0 before Start()
  std::string base_url() const;  // "http://HOST:PORT"
  const std::string& digest() const;

 private:
  struct Impl;
  explicit InferenceServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes `content` to `path` atomically (temp file in the same directory, then rename), so a
// reader polling for the file never sees it half-written.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content);

}  // namespace edgefarm::serving
