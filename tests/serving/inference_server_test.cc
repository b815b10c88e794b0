// The inference server over real HTTP on 127.0.0.1 with the real stories260K model.
#include "edgefarm/serving/inference_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>
#include <vector>

#include "edgefarm/engine/generate.h"
#include "serving_test_util.h"

namespace edgefarm::serving {
namespace {

using Json = nlohmann::json;
using namespace testing;

// The value of the first metric line that starts with `prefix` (the full series name).
double MetricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(InferenceServerTest, CompletionMatchesTheEngineAndNamesTheDigest) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  const HttpReply reply = Complete(server->port(), 8);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const Json j = Json::parse(reply.body);
  engine::GenerateParams p = engine::DefaultGenerateParams();
  p.prompt = "Once upon a time";
  p.n_predict = 8;
  auto expected = engine::Generate(*SharedModel(), p);
  ASSERT_TRUE(expected.ok());
  EXPECT_FALSE(j["text"].get<std::string>().empty());
  EXPECT_EQ(j["text"], expected->text);
  EXPECT_EQ(j["tokens"], expected->tokens.size());
  EXPECT_EQ(j["model_digest"], ModelDigest());
}

TEST(InferenceServerTest, HealthReportsModelAndDigest) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  const HttpReply reply = Get(server->port(), "/health");
  ASSERT_EQ(reply.status, 200);
  const Json j = Json::parse(reply.body);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["model"], "stories260K.gguf");
  EXPECT_EQ(j["digest"], ModelDigest());
}

TEST(InferenceServerTest, BadRequestsAreAnsweredWithErrorJson) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  for (const std::string body :
       {"{not json", "[1,2]", R"({"max_tokens": 3})", R"({"prompt": 5})",
        R"({"prompt": "x", "max_tokens": 100000})", R"({"prompt": "x", "max_tokens": -1})",
        R"({"prompt": "x", "temperature": "hot"})"}) {
    const HttpReply reply = Post(server->port(), "/v1/completions", body);
    EXPECT_EQ(reply.status, 400) << body;
    const Json j = Json::parse(reply.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << reply.body;
    EXPECT_EQ(j["error"]["code"], "invalid_argument") << body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
  // A prompt longer than the model's context (2048 for stories260K) is refused, not grown into.
  std::string long_prompt;
  for (int i = 0; i < 3000; ++i) long_prompt += " once";
  const HttpReply too_long = Complete(server->port(), 4, long_prompt);
  EXPECT_EQ(too_long.status, 400);
  EXPECT_NE(too_long.body.find("exceeds the model context of 2048"), std::string::npos)
      << too_long.body;
  const HttpReply huge = Post(server->port(), "/v1/completions", std::string((1 << 20) + 10, ' '));
  EXPECT_EQ(huge.status, 413);
  const HttpReply missing = Get(server->port(), "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json::parse(missing.body)["error"]["code"], "not_found");
}

TEST(InferenceServerTest, MetricsHistogramCountsRequestsAndTokens) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  int64_t tokens = 0;
  for (int i = 0; i < 5; ++i) {
    const HttpReply reply = Complete(server->port(), 3);
    ASSERT_EQ(reply.status, 200);
    tokens += Json::parse(reply.body)["tokens"].get<int64_t>();
  }
  ASSERT_EQ(Post(server->port(), "/v1/completions", "{").status, 400);
  const HttpReply metrics = Get(server->port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& m = metrics.body;
  EXPECT_EQ(MetricValue(m, "edgefarm_request_duration_seconds_count"), 6) << m;
  EXPECT_EQ(MetricValue(m, "edgefarm_request_duration_seconds_bucket{le=\"+Inf\"}"), 6) << m;
  EXPECT_GT(MetricValue(m, "edgefarm_request_duration_seconds_sum"), 0) << m;
  EXPECT_EQ(MetricValue(m, R"(edgefarm_requests_total{path="/v1/completions",code="200"})"), 5);
  EXPECT_EQ(MetricValue(m, R"(edgefarm_requests_total{path="/v1/completions",code="400"})"), 1);
  EXPECT_EQ(MetricValue(m, R"(edgefarm_request_errors_total{path="/v1/completions",code="400"})"),
            1);
  EXPECT_EQ(MetricValue(m, "edgefarm_tokens_generated_total"), static_cast<double>(tokens));
  ASSERT_EQ(Get(server->port(), "/no/such\"path").status, 404);
  const std::string after = Get(server->port(), "/metrics").body;
  EXPECT_EQ(MetricValue(after, R"(edgefarm_requests_total{path="other",code="404"})"), 1) << after;
  EXPECT_EQ(after.find("such"), std::string::npos);
  // Buckets are cumulative: non-decreasing, ending at the count.
  std::regex bucket(R"(edgefarm_request_duration_seconds_bucket\{le="[^"]+"\} (\d+))");
  double last = 0;
  for (auto it = std::sregex_iterator(m.begin(), m.end(), bucket); it != std::sregex_iterator();
       ++it) {
    const double v = std::stod((*it)[1]);
    EXPECT_GE(v, last);
    last = v;
  }
  EXPECT_EQ(last, 6);
}

TEST(InferenceServerTest, FaultInjectionFailsTheExactFractionForASeed) {
  FaultOptions fault;
  fault.error_rate = 0.2;
  fault.seed = 7;
  auto server = StartServer(fault);
  ASSERT_TRUE(server);
  const FaultSchedule schedule(0.2, 7);
  int failures = 0;
  for (int i = 0; i < 100; ++i) {
    const HttpReply reply = Complete(server->port(), 1);
    const bool failed = reply.status == 500;
    failures += failed ? 1 : 0;
    EXPECT_EQ(failed, schedule.ShouldFail(static_cast<uint64_t>(i))) << "request " << i;
    if (failed)
      EXPECT_EQ(Json::parse(reply.body)["error"]["code"], "injected_fault");
    else
      EXPECT_EQ(reply.status, 200);
  }
  EXPECT_EQ(failures, 20);
  const std::string m = Get(server->port(), "/metrics").body;
  EXPECT_EQ(MetricValue(m, "edgefarm_injected_faults_total"), 20);
  EXPECT_EQ(MetricValue(m, R"(edgefarm_request_errors_total{path="/v1/completions",code="500"})"),
            20);
}

TEST(InferenceServerTest, FaultFractionHoldsUnderConcurrency) {
  FaultOptions fault;
  fault.error_rate = 0.3;
  fault.seed = 99;
  auto server = StartServer(fault, 4);
  ASSERT_TRUE(server);
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) failures += Complete(server->port(), 1).status == 500 ? 1 : 0;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 30);
}

TEST(InferenceServerTest, InjectedLatencyIsALowerBound) {
  FaultOptions fault;
  fault.latency_ms = 40;
  auto server = StartServer(fault);
  ASSERT_TRUE(server);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Complete(server->port(), 1).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  const std::string m = Get(server->port(), "/metrics").body;
  EXPECT_GE(MetricValue(m, "edgefarm_request_duration_seconds_sum"), 0.040);
  EXPECT_EQ(MetricValue(m, "edgefarm_request_duration_seconds_bucket{le=\"0.025\"}"), 0);
}

TEST(InferenceServerTest, RejectsBadOptionsAndStopsCleanly) {
  ServerOptions o = DefaultServerOptions();
  o.fault.error_rate = 1.5;
  EXPECT_FALSE(InferenceServer::Create(SharedModel(), "m", "d", o, nullptr).ok());
  o = DefaultServerOptions();
  o.http_threads = 0;
  EXPECT_FALSE(InferenceServer::Create(SharedModel(), "m", "d", o, nullptr).ok());
  EXPECT_FALSE(
      InferenceServer::Load("/nonexistent/model.gguf", DefaultServerOptions(), nullptr).ok());
  auto server = StartServer();
  ASSERT_TRUE(server);
  const int port = server->port();
  EXPECT_GT(port, 0);
  EXPECT_EQ(server->Start().code(), StatusCode::kFailedPrecondition);
  server->Stop();
  EXPECT_EQ(Get(port, "/health").status, 0);  // nothing listens any more
  server->Stop();                             // idempotent
}

}  // namespace
}  // namespace edgefarm::serving
