// The staging checks. Security checks all run, each on its own evidence, so a report names every
// problem at once; serving an artifact that failed any of them would run untrusted bytes, so
// integration and load are then recorded as skipped (failed). Integration talks to the server
// with a plain httplib client because it must read every response body; load uses RunLoad.
#include "edgefarm/serving/staging_checks.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "edgefarm/common/sha256.h"
#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/model.h"
#include "edgefarm/serving/inference_server.h"
#include "edgefarm/serving/load_generator.h"
#include "edgefarm/serving/signing.h"

namespace edgefarm::serving {

using Json = nlohmann::json;

namespace {

constexpr int64_t kMaxTensors = 1 << 16;
constexpr const char* kPrompts[] = {"Once upon a time", "The little dog", "Lily and Tom went",
                                    "One day, a bird"};

CheckResult Finish(CheckResult c, const std::string& failure) {
  c.passed = failure.empty();
  c.reason = failure;
  return c;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

CheckResult CheckSize(const StageJob& job) {
  CheckResult c{.name = "security.size"};
  c.limits["max_bytes"] = job.max_bytes;
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(job.model, ec);
  if (ec) return Finish(c, "cannot stat the model: " + ec.message());
  c.measurements["bytes"] = bytes;
  if (bytes > job.max_bytes) {
    return Finish(c, "model is " + std::to_string(bytes) + " bytes, over the limit of " +
                         std::to_string(job.max_bytes));
  }
  return Finish(c, "");
}

CheckResult CheckDigest(const StageJob& job) {
  CheckResult c{.name = "security.digest"};
  c.limits["expected_sha256"] = Lower(job.expected_digest);
  auto digest = Sha256File(job.model);
  if (!digest.ok()) return Finish(c, "cannot hash the model: " + digest.status().message());
  c.measurements["sha256"] = *digest;
  if (*digest != Lower(job.expected_digest)) {
    return Finish(c,
                  "sha256 " + *digest + " differs from the expected " + Lower(job.expected_digest));
  }
  return Finish(c, "");
}

CheckResult CheckSignature(const StageJob& job) {
  CheckResult c{.name = "security.signature"};
  c.limits["algorithm"] = "ed25519";
  c.limits["public_key"] = job.public_key;
  const Status verified = VerifyDigest(job.public_key, job.expected_digest, job.signature);
  c.measurements["verified"] = verified.ok();
  return Finish(c, verified.ok() ? "" : verified.message());
}

// Shape sanity beyond what the GGUF reader enforces: no empty dimensions and at most 4 of them.
std::string TensorShapeProblem(const engine::GgufFile& file) {
  for (const engine::GgufTensorInfo& t : file.tensors()) {
    if (t.shape.empty() || t.shape.size() > 4) {
      return "tensor " + t.name + " has " + std::to_string(t.shape.size()) + " dimensions";
    }
    for (int64_t d : t.shape) {
      if (d <= 0) return "tensor " + t.name + " has a non-positive dimension";
    }
  }
  return "";
}

CheckResult CheckGguf(const StageJob& job) {
  CheckResult c{.name = "security.gguf"};
  c.limits["architecture"] = "llama";
  c.limits["max_tensors"] = kMaxTensors;
  auto file = engine::GgufFile::Open(job.model);
  if (!file.ok()) return Finish(c, "not a readable GGUF file: " + file.status().message());
  const engine::GgufFile& f = **file;
  const std::string arch = f.GetString("general.architecture").value_or("");
  c.measurements["gguf_version"] = f.version();
  c.measurements["architecture"] = arch;
  c.measurements["tensors"] = f.tensors().size();
  if (arch != "llama") return Finish(c, "architecture is '" + arch + "', not 'llama'");
  const auto n = static_cast<int64_t>(f.tensors().size());
  if (n == 0 || n > kMaxTensors) {
    return Finish(c, "tensor count " + std::to_string(n) + " outside [1, " +
                         std::to_string(kMaxTensors) + "]");
  }
  if (std::string problem = TensorShapeProblem(f); !problem.empty()) return Finish(c, problem);
  auto hp = engine::ReadLlamaHparams(f);
  if (!hp.ok()) return Finish(c, "hyperparameters: " + hp.status().message());
  c.measurements["n_layer"] = hp->n_layer;
  c.measurements["n_embd"] = hp->n_embd;
  c.measurements["n_vocab"] = hp->n_vocab;
  // The full loader checks every tensor's presence, type and shape against the hyperparameters.
  auto model = engine::LlamaModel::FromGguf(std::move(*file));
  if (!model.ok()) return Finish(c, "model does not load: " + model.status().message());
  return Finish(c, "");
}

CheckResult Skipped(const std::string& name, const std::string& why) {
  CheckResult c{.name = name};
  return Finish(c, "skipped: " + why);
}

// One integration request; returns an empty string when the response is valid.
std::string IntegrationProblem(httplib::Client& client, const std::string& prompt, int max_tokens,
                               const std::string& digest) {
  const Json body{{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
  auto r = client.Post("/v1/completions", body.dump(), "application/json");
  if (!r) return "no response: " + httplib::to_string(r.error());
  if (r->status != 200) return "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200);
  const Json j = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return "response is not a JSON object";
  auto text = j.find("text");
  if (text == j.end() || !text->is_string() || text->get_ref<const std::string&>().empty()) {
    return "response has no non-empty \"text\"";
  }
  auto tokens = j.find("tokens");
  if (tokens == j.end() || !tokens->is_number_integer() || tokens->get<int64_t>() <= 0) {
    return "response has no positive \"tokens\"";
  }
  auto d = j.find("model_digest");
  if (d == j.end() || *d != digest) return "response names another model digest";
  return "";
}

CheckResult CheckIntegration(const StageJob& job, const InferenceServer& server) {
  CheckResult c{.name = "integration"};
  c.limits["requests"] = job.integration_requests;
  c.limits["min_valid"] = job.integration_requests;
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(std::chrono::seconds(120));
  client.set_tcp_nodelay(true);
  int valid = 0;
  std::string first_problem;
  for (int i = 0; i < job.integration_requests; ++i) {
    const std::string prompt = kPrompts[static_cast<size_t>(i) % std::size(kPrompts)];
    std::string problem =
        IntegrationProblem(client, prompt, job.integration_max_tokens, server.digest());
    if (problem.empty()) {
      ++valid;
    } else if (first_problem.empty()) {
      first_problem = "request " + std::to_string(i + 1) + ": " + problem;
    }
  }
  c.measurements["requests"] = job.integration_requests;
  c.measurements["valid"] = valid;
  c.measurements["invalid"] = job.integration_requests - valid;
  if (valid < job.integration_requests) {
    return Finish(c, std::to_string(job.integration_requests - valid) + " of " +
                         std::to_string(job.integration_requests) +
                         " responses invalid; first: " + first_problem);
  }
  return Finish(c, "");
}

std::string LoadLimitProblem(const StageJob& job, const LoadReport& r) {
  auto fmt = [](double v) { return Json(v).dump(); };
  if (r.requests == 0) return "no requests completed";
  if (job.max_error_rate && r.error_rate > *job.max_error_rate) {
    return "error rate " + fmt(r.error_rate) + " above the limit " + fmt(*job.max_error_rate);
  }
  if (job.max_p95_ms && r.p95_ms > *job.max_p95_ms) {
    return "p95 " + fmt(r.p95_ms) + " ms above the limit " + fmt(*job.max_p95_ms) + " ms";
  }
  if (job.min_throughput_rps && r.throughput_rps < *job.min_throughput_rps) {
    return "throughput " + fmt(r.throughput_rps) + " req/s below the limit " +
           fmt(*job.min_throughput_rps) + " req/s";
  }
  return "";
}

CheckResult CheckLoad(const StageJob& job, const InferenceServer& server) {
  CheckResult c{.name = "load"};
  c.limits["concurrency"] = job.load_concurrency;
  if (job.load_requests > 0) c.limits["requests"] = job.load_requests;
  if (job.load_duration_s > 0) c.limits["duration_s"] = job.load_duration_s;
  if (job.max_error_rate) c.limits["max_error_rate"] = *job.max_error_rate;
  if (job.max_p95_ms) c.limits["max_p95_ms"] = *job.max_p95_ms;
  if (job.min_throughput_rps) c.limits["min_throughput_rps"] = *job.min_throughput_rps;
  LoadOptions o;
  o.url = server.base_url();
  o.body =
      Json{{"prompt", kPrompts[0]}, {"max_tokens", job.load_max_tokens}, {"temperature", 0}}.dump();
  o.concurrency = job.load_concurrency;
  o.requests = job.load_requests;
  o.duration = std::chrono::milliseconds(static_cast<int64_t>(job.load_duration_s * 1000));
  auto report = RunLoad(o);
  if (!report.ok()) return Finish(c, "load generator: " + report.status().message());
  const LoadReport& r = *report;
  c.measurements = {
      {"requests", r.requests}, {"errors", r.errors},       {"error_rate", r.error_rate},
      {"p50_ms", r.p50_ms},     {"p95_ms", r.p95_ms},       {"p99_ms", r.p99_ms},
      {"max_ms", r.max_ms},     {"elapsed_s", r.elapsed_s}, {"throughput_rps", r.throughput_rps}};
  return Finish(c, LoadLimitProblem(job, r));
}

}  // namespace

Result<StageReport> RunStageChecks(const StageJob& job, const StageOptions& options,
                                   std::shared_ptr<spdlog::logger> logger) {
  if (!logger) logger = spdlog::default_logger();
  StageReport report;
  report.checks = {CheckSize(job), CheckDigest(job), CheckSignature(job), CheckGguf(job)};
  const bool secure = std::all_of(report.checks.begin(), report.checks.end(),
                                  [](const CheckResult& c) { return c.passed; });
  for (const CheckResult& c : report.checks) {
    logger->info("stage check {}: {}{}", c.name, c.passed ? "pass" : "FAIL",
                 c.passed ? "" : " (" + c.reason + ")");
  }
  if (!secure) {
    report.checks.push_back(Skipped("integration", "security checks failed"));
    report.checks.push_back(Skipped("load", "security checks failed"));
    return report;
  }
  ServerOptions so = DefaultServerOptions();
  so.http_threads = std::max(options.http_threads, job.load_concurrency);
  so.engine_threads = options.engine_threads;
  so.fault = options.fault;
  EF_ASSIGN_OR_RETURN(std::unique_ptr<InferenceServer> server,
                      InferenceServer::Load(job.model, so, logger));
  EF_RETURN_IF_ERROR(server->Start());
  report.checks.push_back(CheckIntegration(job, *server));
  report.checks.push_back(CheckLoad(job, *server));
  server->Stop();
  for (size_t i = 4; i < report.checks.size(); ++i) {
    const CheckResult& c = report.checks[i];
    logger->info("stage check {}: {}{}", c.name, c.passed ? "pass" : "FAIL",
                 c.passed ? "" : " (" + c.reason + ")");
  }
  report.passed = std::all_of(report.checks.begin(), report.checks.end(),
                              [](const CheckResult& c) { return c.passed; });
  return report;
}

}  // namespace edgefarm::serving
