// HttpApi: routes of the shared contract on cpp-httplib.
//
// Implementation notes:
// - Authentication happens before any body is read (blob uploads stream through a ContentReader
//   into the BlobStore, so an unauthenticated or oversized upload costs no memory).
// - The scheduler mutex is held only around scheduler calls; pipeline loading and blob hashing
//   run outside it.
// - httplib answers routing and length errors itself; the error handler gives those the JSON
//   error shape too.
#include "edgefarm/coordinator/http_api.h"

#include <chrono>
#include <fstream>
#include <thread>

#include "edgefarm/coordinator/promotion_service.h"
#include "edgefarm/coordinator/run_json.h"
#include "edgefarm/coordinator/run_planner.h"
#include "http_api_internal.h"

namespace edgefarm::coordinator {
namespace http_internal {

void SendJson(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(Response& res, int status, const std::string& code, const std::string& message) {
  SendJson(res, status, {{"error", {{"code", code}, {"message", message}}}});
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnavailable:
    case StatusCode::kIoError:
      return 503;
    default:
      return 500;
  }
}

std::string BearerToken(const Request& req) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() <= kPrefix.size() || header.compare(0, kPrefix.size(), kPrefix) != 0) {
    return "";
  }
  return header.substr(kPrefix.size());
}

std::optional<json> JsonBody(const Request& req, Response& res) {
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    SendError(res, 400, "invalid_json", "the body is not a JSON object");
    return std::nullopt;
  }
  return j;
}

}  // namespace http_internal

namespace {

using namespace http_internal;  // NOLINT(google-build-using-namespace): adapter-internal helpers

constexpr uint64_t kMaxLogRead = 1 << 20;
constexpr auto kMaxFollowWait = std::chrono::seconds(60);

bool IsMutating(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// Parses the run submission body; InvalidArgument names the offending field.
Result<RunRequest> ParseRunRequest(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("body is not a JSON object");
  RunRequest request;
  if (j.contains("pipeline_file")) {
    if (!j["pipeline_file"].is_string()) return InvalidArgument("pipeline_file must be a string");
    request.pipeline_file = j["pipeline_file"].get<std::string>();
  }
  if (!j.contains("pipeline_yaml") || !j["pipeline_yaml"].is_string()) {
    return InvalidArgument("pipeline_yaml (string) is required");
  }
  request.pipeline_yaml = j["pipeline_yaml"].get<std::string>();
  if (j.contains("files")) {
    if (!j["files"].is_object()) return InvalidArgument("files must be an object");
    for (const auto& [path, digest] : j["files"].items()) {
      if (!digest.is_string() || !IsValidSha256Hex(digest.get<std::string>())) {
        return InvalidArgument("files[\"" + path + "\"] must be a sha256 hex digest");
      }
      request.files[path] = digest.get<std::string>();
    }
  }
  return request;
}

}  // namespace

std::optional<TokenIdentity> HttpApi::Impl::Authorize(const Request& req, Response& res,
                                                      Permission permission) {
  auto who = ctx.tokens->Identify(BearerToken(req));
  if (!who) {
    SendError(res, 401, "unauthenticated", "missing or unknown bearer token");
    return std::nullopt;
  }
  if (!Allows(who->role, permission)) {
    SendError(res, 403, "forbidden",
              "role " + std::string(ToString(who->role)) + " may not do this");
    return std::nullopt;
  }
  return who;
}

void HttpApi::Impl::Audit(const Request& req, const Response& res) {
  if (!IsMutating(req.method) || ctx.control == nullptr) return;
  AuditRecord record;
  record.at_ms = ctx.clock ? ctx.clock->UnixMillis() : 0;
  if (req.path.rfind("/hooks/", 0) == 0) {
    record.actor = "webhook:" + req.path.substr(7);
    record.role = "webhook";
  } else if (auto who = ctx.tokens->Identify(BearerToken(req))) {
    record.actor = who->id + " (" + who->name + ")";
    record.role = std::string(ToString(who->role));
  } else {
    record.actor = "anonymous";
    record.role = "none";
  }
  record.method = req.method;
  record.path = req.path.substr(0, 512);
  record.remote = req.remote_addr + ":" + std::to_string(req.remote_port);
  record.status = res.status;
  Status appended = ctx.control->AppendAudit(record);
  if (!appended.ok()) ctx.logger->error("audit log: {}", appended.ToString());
}

void HttpApi::Impl::PutBlob(const Request& req, Response& res,
                            const httplib::ContentReader& reader) {
  if (!Authorize(req, res, Permission::kBlobWrite)) return;
  const std::string digest = req.matches[1];
  if (!IsValidSha256Hex(digest)) {
    SendError(res, 400, "invalid_digest", "blob names are sha256 hex digests");
    return;
  }
  auto writer = ctx.blobs->BeginWrite();
  if (!writer.ok()) {
    SendError(res, 503, "io_error", writer.status().message());
    return;
  }
  Status append;
  const bool complete = reader([&](const char* data, size_t size) {
    append = (*writer)->Append(std::string_view(data, size));
    return append.ok();
  });
  if (!append.ok()) {
    bool too_large = append.code() == StatusCode::kResourceExhausted;
    SendError(res, HttpStatusOf(append), too_large ? "too_large" : "io_error", append.message());
    return;
  }
  if (!complete) {
    // httplib drains a body longer than the payload limit and marks the response 413, so the
    // client reads our answer instead of a reset connection.
    if (res.status == 413) {
      SendError(
          res, 413, "too_large",
          "blob exceeds the limit of " + std::to_string(ctx.blobs->max_blob_bytes()) + " bytes");
    } else {
      SendError(res, 400, "incomplete_upload", "the request body ended early");
    }
    return;
  }
  auto size = (*writer)->Commit(digest);
  if (!size.ok()) {
    bool mismatch = size.status().code() == StatusCode::kInvalidArgument;
    SendError(res, mismatch ? 400 : 503, mismatch ? "digest_mismatch" : "io_error",
              size.status().message());
    return;
  }
  std::lock_guard lock(*ctx.mu);
  ctx.scheduler->RecordBlob(digest, *size);
  Status flushed = ctx.scheduler->Flush();
  if (!flushed.ok()) {
    SendError(res, 503, "store_unavailable", flushed.message());
    return;
  }
  SendJson(res, 201, {{"digest", digest}, {"size", *size}});
}

void HttpApi::Impl::GetBlob(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kBlobRead)) return;
  ServeBlob(req.matches[1].str(), "", res);
}

void HttpApi::Impl::ServeBlob(const std::string& digest, const std::string& download_name,
                              Response& res) {
  auto path = ctx.blobs->PathOf(digest);
  if (!path.ok()) {
    SendError(res, HttpStatusOf(path.status()),
              path.status().code() == StatusCode::kNotFound ? "not_found" : "invalid_digest",
              path.status().message());
    return;
  }
  auto size = ctx.blobs->Size(digest);
  auto file = std::make_shared<std::ifstream>(*path, std::ios::binary);
  if (!size.ok() || !*file) {
    SendError(res, 503, "io_error", "cannot read blob");
    return;
  }
  if (!download_name.empty()) {
    res.set_header("Content-Disposition", "attachment; filename=\"" + download_name + "\"");
  }
  res.set_content_provider(static_cast<size_t>(*size), "application/octet-stream",
                           [file](size_t offset, size_t length, httplib::DataSink& sink) {
                             std::vector<char> buffer(std::min<size_t>(length, 1 << 16));
                             file->seekg(static_cast<std::streamoff>(offset));
                             file->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
                             if (file->gcount() <= 0) return false;
                             return sink.write(buffer.data(), static_cast<size_t>(file->gcount()));
                           });
}

void HttpApi::Impl::PostRun(const Request& req, Response& res) {
  auto who = Authorize(req, res, Permission::kSubmit);
  if (!who) return;
  if (req.body.size() > ctx.max_request_bytes) {
    SendError(res, 413, "too_large",
              "request body exceeds " + std::to_string(ctx.max_request_bytes) + " bytes");
    return;
  }
  auto request = ParseRunRequest(req.body);
  if (!request.ok()) {
    SendError(res, 400, "invalid_request", request.status().message());
    return;
  }
  auto planned = PlanRun(*request, *ctx.blobs, ctx.native_target);
  if (!planned.ok()) {
    bool missing = planned.status().code() == StatusCode::kNotFound;
    SendError(res, 400, missing ? "missing_file" : "invalid_pipeline", planned.status().message());
    return;
  }
  Result<std::string> run_id = Internal("unset");
  if (ctx.submit_run) {
    run_id = ctx.submit_run(std::move(planned).value());  // waits for the loop's commit
  } else {
    std::lock_guard lock(*ctx.mu);
    run_id = ctx.scheduler->SubmitRun(std::move(planned).value());
  }
  if (run_id.ok() && ctx.promotions != nullptr) {
    // The submitter may not approve the run's promotions. Outside the scheduler lock: the
    // promotion service takes its own lock first, then that one.
    Status noted = ctx.promotions->NoteSubmitter(*run_id, ActorName(*who));
    if (!noted.ok()) ctx.logger->error("run {}: {}", *run_id, noted.ToString());
  }
  if (run_id.status().code() == StatusCode::kResourceExhausted) {
    // Admission limit or a full resource group: overload, reported (GET /api/v1/scheduler).
    SendError(res, 429, "overloaded", run_id.status().message());
    return;
  }
  if (!run_id.ok()) {
    bool invalid = run_id.status().code() == StatusCode::kInvalidArgument;
    SendError(res, invalid ? 400 : 503, invalid ? "invalid_pipeline" : "store_unavailable",
              run_id.status().message());
    return;
  }
  ctx.logger->info("run {} submitted from {}", *run_id, request->pipeline_file);
  SendJson(res, 201, {{"run_id", *run_id}});
}

void HttpApi::Impl::ListRuns(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kRead)) return;
  const std::string state = req.get_param_value("state");
  const std::string repo = req.get_param_value("repo");
  const std::string commit = req.get_param_value("commit");
  size_t limit = 1000;
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    if (text.empty() || text.size() > 6 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return SendError(res, 400, "invalid_request", "limit must be an integer up to 999999");
    }
    limit = std::stoul(text);
  }
  if (!state.empty() && !ParseRunState(state).ok()) {
    return SendError(res, 400, "invalid_request", "unknown run state");
  }
  std::vector<json> runs;
  {
    std::lock_guard lock(*ctx.mu);
    for (const RunRecord* run : ctx.scheduler->Runs()) {
      if (!state.empty() && ToString(run->state) != state) continue;
      runs.push_back(RunSummaryJson(*ctx.scheduler, *run));
    }
  }
  json out = json::array();
  // Newest first, so ?limit= shows the latest runs.
  for (auto it = runs.rbegin(); it != runs.rend() && out.size() < limit; ++it) {
    if (!repo.empty() || !commit.empty()) {
      auto trigger = ctx.control->TriggerOf((*it)["id"].get<std::string>());
      if (!trigger.ok() || !trigger->has_value()) continue;
      if (!repo.empty() && (*trigger)->repo != repo) continue;
      if (!commit.empty() && (*trigger)->commit != commit) continue;
    }
    out.push_back(std::move(*it));
  }
  SendJson(res, 200, {{"runs", std::move(out)}});
}

void HttpApi::Impl::GetRun(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kRead)) return;
  json detail;
  {
    std::lock_guard lock(*ctx.mu);
    const RunRecord* run = ctx.scheduler->FindRun(req.matches[1]);
    if (run == nullptr) return SendError(res, 404, "not_found", "no such run");
    detail = RunDetailJson(*ctx.scheduler, *run);
  }
  detail["trigger"] = nullptr;
  auto trigger = ctx.control->TriggerOf(req.matches[1]);
  if (trigger.ok() && trigger->has_value()) {
    const TriggeredRun& t = **trigger;
    detail["trigger"] = {{"repo", t.repo},
                         {"ref", t.ref},
                         {"commit", t.commit},
                         {"author", t.author},
                         {"message", t.message},
                         {"delivery", t.delivery_id},
                         {"pipeline_file", t.pipeline_file}};
  }
  SendJson(res, 200, detail);
}

void HttpApi::Impl::GetLog(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kRead)) return;
  uint64_t offset = 0;
  if (req.has_param("offset")) {
    const std::string text = req.get_param_value("offset");
    if (text.empty() || text.size() > 19 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      SendError(res, 400, "invalid_request", "offset must be a non-negative integer");
      return;
    }
    offset = std::stoull(text);
  }
  const std::string follow = req.get_param_value("follow");
  // follow=true is a long poll: wait (bounded) until there is data past offset or the log ends.
  const auto deadline =
      std::chrono::steady_clock::now() +
      (follow == "true" || follow == "1" ? kMaxFollowWait : std::chrono::seconds(0));
  while (true) {
    std::string job_id;
    uint32_t attempt = 0;
    bool complete = false;
    {
      std::lock_guard lock(*ctx.mu);
      const JobRecord* job = ctx.scheduler->FindJob(req.matches[1]);
      if (job == nullptr) return SendError(res, 404, "not_found", "no such job");
      job_id = job->id;
      attempt = job->attempt;
      auto attempts = ctx.scheduler->AttemptsOf(job->id);
      complete = IsTerminal(job->state) ||
                 (!attempts.empty() && attempts.back()->state == AttemptState::kFinished);
    }
    std::string data;
    if (attempt > 0) {
      auto read = ctx.logs->Read(job_id, attempt, offset, kMaxLogRead);
      if (!read.ok()) return SendError(res, 503, "io_error", read.status().message());
      data = std::move(read).value();
      complete = complete && offset + data.size() >= ctx.logs->Size(job_id, attempt);
    }
    if (data.empty() && !complete && std::chrono::steady_clock::now() < deadline &&
        server.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    res.set_header("X-Edgefarm-Log-Complete", complete ? "true" : "false");
    res.status = 200;
    res.set_content(data, "text/plain; charset=utf-8");
    return;
  }
}

void HttpApi::Impl::Routes() {
  server.Get("/api/v1/health", [this](const Request&, Response& res) {
    SendJson(res, 200, {{"ok", true}, {"bad_frames", ctx.bad_frames->load()}});
  });
  server.Put(R"(/api/v1/blobs/([^/]+))",
             [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
               PutBlob(req, res, reader);
             });
  server.Get(R"(/api/v1/blobs/([^/]+))",
             [this](const Request& req, Response& res) { GetBlob(req, res); });
  server.Post("/api/v1/runs", [this](const Request& req, Response& res) { PostRun(req, res); });
  server.Get("/api/v1/runs", [this](const Request& req, Response& res) { ListRuns(req, res); });
  server.Get(R"(/api/v1/runs/([^/]+))",
             [this](const Request& req, Response& res) { GetRun(req, res); });
  server.Get(R"(/api/v1/jobs/([^/]+))", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    std::lock_guard lock(*ctx.mu);
    const JobRecord* job = ctx.scheduler->FindJob(req.matches[1]);
    if (job == nullptr) return SendError(res, 404, "not_found", "no such job");
    SendJson(res, 200, JobJson(*ctx.scheduler, *job));
  });
  server.Get(R"(/api/v1/jobs/([^/]+)/log)",
             [this](const Request& req, Response& res) { GetLog(req, res); });
  server.Post(R"(/api/v1/runs/([^/]+)/cancel)", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kSubmit)) return;
    std::lock_guard lock(*ctx.mu);
    Status cancelled = ctx.scheduler->CancelRun(req.matches[1]);
    if (cancelled.code() == StatusCode::kNotFound) {
      return SendError(res, 404, "not_found", "no such run");
    }
    if (!cancelled.ok()) return SendError(res, 503, "store_unavailable", cancelled.message());
    SendJson(res, 200, RunDetailJson(*ctx.scheduler, *ctx.scheduler->FindRun(req.matches[1])));
  });
  server.Post(R"(/api/v1/workers/([^/]+)/drain)", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kAdmin)) return;
    std::lock_guard lock(*ctx.mu);
    Status drained = ctx.scheduler->DrainWorker(req.matches[1]);
    if (drained.code() == StatusCode::kNotFound) {
      return SendError(res, 404, "not_found", "no such worker");
    }
    if (drained.code() == StatusCode::kFailedPrecondition) {
      return SendError(res, 409, "worker_lost", drained.message());
    }
    if (!drained.ok()) return SendError(res, 503, "store_unavailable", drained.message());
    SendJson(res, 200, {{"id", req.matches[1].str()}, {"state", "draining"}});
  });
  server.Get("/api/v1/workers", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    std::lock_guard lock(*ctx.mu);
    SendJson(res, 200, WorkersJson(*ctx.scheduler));
  });
  server.Get("/api/v1/scheduler", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    std::lock_guard lock(*ctx.mu);
    SendJson(res, 200, SchedulerLoadJson(ctx.scheduler->Load()));
  });
  ControlRoutes();
  PromotionRoutes();
}

HttpApi::HttpApi(ApiContext context) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = std::move(context);
  impl_->server.set_payload_max_length(static_cast<size_t>(impl_->ctx.blobs->max_blob_bytes()));
  impl_->server.set_error_handler([](const Request&, Response& res) {
    if (!res.body.empty()) return;
    const char* code = res.status == 404   ? "not_found"
                       : res.status == 413 ? "too_large"
                                           : "bad_request";
    SendError(res, res.status, code, "HTTP " + std::to_string(res.status));
  });
  impl_->server.set_exception_handler(
      [logger = impl_->ctx.logger](const Request& req, Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        logger->error("HTTP {} {} failed: {}", req.method, req.path, what);
        SendError(res, 500, "internal", "internal error");
      });
  impl_->server.set_pre_routing_handler([this](const Request& req, Response& res) {
    // Only blob uploads stream; every other body is read into memory, so refuse big ones unread.
    if (req.path.rfind("/api/v1/blobs/", 0) == 0)
      return httplib::Server::HandlerResponse::Unhandled;
    const std::string length = req.get_header_value("Content-Length");
    if (!length.empty() &&
        (length.size() > 18 || length.find_first_not_of("0123456789") != std::string::npos ||
         std::stoull(length) > impl_->ctx.max_request_bytes)) {
      SendError(res, 413, "too_large",
                "request body exceeds " + std::to_string(impl_->ctx.max_request_bytes) + " bytes");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Post-routing runs for every response just before it is written, so the audit row is durable
  // before the client sees the answer (and rows keep the order of the answers).
  impl_->server.set_post_routing_handler(
      [this](const Request& req, Response& res) { impl_->Audit(req, res); });
  impl_->Routes();
}

HttpApi::~HttpApi() {
  Stop();
}

Result<int> HttpApi::Bind(const std::string& host, int port) {
  if (port == 0) {
    int bound = impl_->server.bind_to_any_port(host);
    if (bound <= 0) return IoError("cannot bind HTTP to " + host + ":0");
    return bound;
  }
  if (!impl_->server.bind_to_port(host, port)) {
    return IoError("cannot bind HTTP to " + host + ":" + std::to_string(port));
  }
  return port;
}

void HttpApi::Start() {
  auto exited = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, exited] {
    impl_->server.listen_after_bind();
    exited->store(true);
  });
  // stop() is a no-op until the server runs; wait so a prompt Stop() cannot be lost.
  while (!impl_->server.is_running() && !exited->load()) std::this_thread::yield();
}

void HttpApi::Stop() {
  if (!thread_.joinable()) return;
  impl_->server.stop();
  thread_.join();
}

}  // namespace edgefarm::coordinator
