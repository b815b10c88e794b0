// cpp-httplib adapter for the inference server. httplib and nlohmann::json exceptions are caught
// in the handlers and answered as 400/500; nothing escapes to the pool's threads. The fault
// schedule is indexed by an atomic arrival counter so an exact error fraction holds under
// concurrency (which request gets which index is up to the scheduler, the count is not).
#include "edgefarm/serving/inference_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgefarm/common/sha256.h"
#include "edgefarm/engine/generate.h"
#include "edgefarm/engine/model.h"
#include "edgefarm/engine/tokenizer.h"
#include "http_listener.h"
#include "server_metrics.h"

namespace edgefarm::serving {

using Json = nlohmann::json;

namespace {

struct CompletionRequest {
  std::string prompt;
  int max_tokens = 16;
  float temperature = 0.0f;
  uint64_t seed = 0;
};

std::string ErrorBody(std::string_view code, std::string_view message) {
  return Json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

Result<CompletionRequest> ParseCompletion(const std::string& body, int max_tokens_limit) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("request body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("request body must be a JSON object");
  CompletionRequest r;
  auto prompt = j.find("prompt");
  if (prompt == j.end() || !prompt->is_string()) {
    return InvalidArgument("\"prompt\" must be a string");
  }
  r.prompt = prompt->get<std::string>();
  if (auto it = j.find("max_tokens"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() > max_tokens_limit) {
      return InvalidArgument("\"max_tokens\" must be an integer in [0, " +
                             std::to_string(max_tokens_limit) + "]");
    }
    r.max_tokens = it->get<int>();
  }
  if (auto it = j.find("temperature"); it != j.end()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 100) {
      return InvalidArgument("\"temperature\" must be a number in [0, 100]");
    }
    r.temperature = it->get<float>();
  }
  if (auto it = j.find("seed"); it != j.end()) {
    if (!it->is_number_unsigned())
      return InvalidArgument("\"seed\" must be a non-negative integer");
    r.seed = it->get<uint64_t>();
  }
  return r;
}

}  // namespace

ServerOptions DefaultServerOptions() {
  return ServerOptions{};
}

struct InferenceServer::Impl {
  std::shared_ptr<const engine::LlamaModel> model;
  std::string model_name;
  std::string digest;
  ServerOptions options;
  std::shared_ptr<spdlog::logger> log;
  FaultSchedule faults{0, 1};
  std::atomic<uint64_t> completion_index{0};
  ServerMetrics metrics;
  httplib::Server http;
  std::thread thread;
  int port = 0;
  bool started = false;

  void Route();
  void HandleCompletion(const httplib::Request& req, httplib::Response& res);
  // Runs one parsed request; returns the HTTP status and fills the body and token count.
  int Complete(const CompletionRequest& request, std::string* body, int64_t* tokens);
};

void InferenceServer::Impl::Route() {
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    HandleCompletion(req, res);
  });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(Json{{"ok", true}, {"model", model_name}, {"digest", digest}}.dump(),
                    "application/json");
    metrics.RecordOther("/health", 200);
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.Render(model_name, digest), "text/plain; version=0.0.4");
    metrics.RecordOther("/metrics", 200);
  });
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Called for every answer >= 400; our handlers set a body, httplib's own 404/413/400 do not
    // and get the API's error shape here.
    if (res.body.empty()) {
      const char* code = res.status == 413   ? "too_large"
                         : res.status == 404 ? "not_found"
                                             : "bad_request";
      res.set_content(ErrorBody(code, "HTTP " + std::to_string(res.status) + " for " + req.path),
                      "application/json");
    }
    // Completions record themselves; any other path is one label, so probing random paths
    // cannot grow the metrics without bound (or inject text into the exposition format).
    if (req.path != "/v1/completions") metrics.RecordOther("other", res.status);
  });
  http.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(ErrorBody("internal", "unexpected error"), "application/json");
        log->error("inference server: exception in a request handler");
      });
}

void InferenceServer::Impl::HandleCompletion(const httplib::Request& req, httplib::Response& res) {
  const auto start = std::chrono::steady_clock::now();
  const uint64_t index = completion_index.fetch_add(1);
  const bool inject = faults.ShouldFail(index);
  if (options.fault.latency_ms > 0) {
    // Injected latency is the point of the option: the request is held this long on purpose.
    std::this_thread::sleep_for(std::chrono::milliseconds(options.fault.latency_ms));
  }
  std::string body;
  int64_t tokens = 0;
  int status = 0;
  if (inject) {
    status = 500;
    body = ErrorBody("injected_fault", "fault injection failed this request");
  } else if (auto parsed = ParseCompletion(req.body, options.max_tokens_limit); !parsed.ok()) {
    status = 400;
    body = ErrorBody("invalid_argument", parsed.status().message());
  } else {
    status = Complete(*parsed, &body, &tokens);
  }
  res.status = status;
  res.set_content(body, "application/json");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.RecordCompletion(status, seconds, tokens, inject);
}

int InferenceServer::Impl::Complete(const CompletionRequest& request, std::string* body,
                                    int64_t* tokens) {
  // Generate() would grow the context to fit any prompt; a request must not be able to demand an
  // arbitrarily large KV cache and quadratic attention, so the model's own context is the limit.
  const size_t n_prompt = model->tokenizer().Encode(request.prompt, /*add_bos=*/true).size();
  const int n_ctx = model->hparams().n_ctx_train;
  if (n_prompt + static_cast<size_t>(request.max_tokens) > static_cast<size_t>(n_ctx)) {
    *body = ErrorBody("invalid_argument",
                      "prompt of " + std::to_string(n_prompt) + " tokens plus max_tokens " +
                          std::to_string(request.max_tokens) + " exceeds the model context of " +
                          std::to_string(n_ctx));
    return 400;
  }
  engine::GenerateParams p = engine::DefaultGenerateParams();
  p.prompt = request.prompt;
  p.n_predict = request.max_tokens;
  p.temperature = request.temperature;
  p.seed = request.seed;
  p.threads = options.engine_threads;
  auto result = engine::Generate(*model, p);
  if (!result.ok()) {
    const bool bad_input = result.status().code() == StatusCode::kInvalidArgument;
    *body = ErrorBody(bad_input ? "invalid_argument" : "internal", result.status().message());
    if (!bad_input) log->error("inference server: generate failed: {}", result.status().ToString());
    return bad_input ? 400 : 500;
  }
  *tokens = static_cast<int64_t>(result->tokens.size());
  *body = Json{{"text", result->text}, {"tokens", *tokens}, {"model_digest", digest}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
  return 200;
}

InferenceServer::InferenceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

InferenceServer::~InferenceServer() {
  Stop();
}

Result<std::unique_ptr<InferenceServer>> InferenceServer::Create(
    std::shared_ptr<const engine::LlamaModel> model, std::string model_name, std::string digest,
    const ServerOptions& options, std::shared_ptr<spdlog::logger> logger) {
  if (!model) return InvalidArgument("no model");
  if (options.http_threads < 1 || options.http_threads > 256) {
    return InvalidArgument("http threads must be in [1, 256]");
  }
  if (options.engine_threads < 1 || options.engine_threads > 256) {
    return InvalidArgument("engine threads must be in [1, 256]");
  }
  if (!(options.fault.error_rate >= 0 && options.fault.error_rate <= 1)) {
    return InvalidArgument("fault error rate must be in [0, 1]");
  }
  if (options.fault.latency_ms < 0 || options.fault.latency_ms > 600000) {
    return InvalidArgument("fault latency must be in [0, 600000] ms");
  }
  auto impl = std::make_unique<Impl>();
  impl->model = std::move(model);
  impl->model_name = std::move(model_name);
  impl->digest = std::move(digest);
  impl->options = options;
  impl->log = logger ? std::move(logger) : spdlog::default_logger();
  impl->faults = FaultSchedule(options.fault.error_rate, options.fault.seed);
  const int threads = options.http_threads;
  impl->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl->http.set_payload_max_length(options.max_body_bytes);
  // Small request/response pairs: without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms stalls
  // that would dominate every latency figure.
  impl->http.set_tcp_nodelay(true);
  impl->Route();
  return std::unique_ptr<InferenceServer>(new InferenceServer(std::move(impl)));
}

Result<std::unique_ptr<InferenceServer>> InferenceServer::Load(
    const std::filesystem::path& path, const ServerOptions& options,
    std::shared_ptr<spdlog::logger> logger) {
  EF_ASSIGN_OR_RETURN(std::string digest, Sha256File(path));
  EF_ASSIGN_OR_RETURN(std::unique_ptr<engine::LlamaModel> model, engine::LlamaModel::Load(path));
  return Create(std::shared_ptr<const engine::LlamaModel>(std::move(model)),
                path.filename().string(), std::move(digest), options, std::move(logger));
}

Status InferenceServer::Start() {
  Impl& s = *impl_;
  if (s.started) return FailedPrecondition("inference server already started");
  EF_ASSIGN_OR_RETURN(const int port,
                      BindAndListen(s.http, s.options.host, s.options.port, &s.thread));
  s.port = port;
  s.started = true;
  s.log->info("inference server: {} ({}) on {}:{}", s.model_name, s.digest, s.options.host, port);
  return Status::Ok();
}

void InferenceServer::Stop() {
  if (!impl_ || !impl_->started) return;
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

int InferenceServer::port() const {
  return impl_->port;
}

std::string InferenceServer::base_url() const {
  return "http://" + impl_->options.host + ":" + std::to_string(impl_->port);
}

const std::string& InferenceServer::digest() const {
  return impl_->digest;
}

Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IoError("cannot write " + tmp.string());
    out << content;
    out.flush();
    if (!out) return IoError("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return IoError("cannot rename to " + path.string());
  }
  return Status::Ok();
}

}  // namespace edgefarm::serving
