// The traffic router in front of two real inference servers, over real HTTP on 127.0.0.1.
#include "edgefarm/serving/traffic_router.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "edgefarm/common/clock.h"
#include "edgefarm/serving/load_generator.h"
#include "serving_test_util.h"

namespace edgefarm::serving {
namespace {

using Json = nlohmann::json;
using namespace testing;

class TrafficRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blue_ = StartServer();
    green_ = StartServer();
    ASSERT_TRUE(blue_ && green_);
    router_ = MakeRouter(nullptr);
    ASSERT_TRUE(router_);
    ASSERT_TRUE(router_->SetUpstream(Slot::kBlue, blue_->base_url()).ok());
    ASSERT_TRUE(router_->SetUpstream(Slot::kGreen, green_->base_url()).ok());
  }

  static std::unique_ptr<TrafficRouter> MakeRouter(const Clock* clock) {
    RouterOptions o = DefaultRouterOptions();
    o.window = std::chrono::seconds(10);
    auto router = TrafficRouter::Create(o, nullptr, clock);
    if (!router.ok() || !(*router)->Start().ok()) return nullptr;
    return std::move(*router);
  }

  // Sends n one-token completions through the router; returns how many each slot answered.
  std::map<std::string, int> Send(TrafficRouter& router, int n) {
    std::map<std::string, int> by_slot;
    for (int i = 0; i < n; ++i) ++by_slot[Complete(router.port(), 1).slot];
    return by_slot;
  }

  std::unique_ptr<InferenceServer> blue_, green_;
  std::unique_ptr<TrafficRouter> router_;
};

TEST_F(TrafficRouterTest, SplitCountsAreExactForEachWeight) {
  for (int weight : {0, 10, 50, 100}) {
    router_->ResetStats(Slot::kBlue);
    router_->ResetStats(Slot::kGreen);
    ASSERT_TRUE(router_->SetRouting(Slot::kBlue, weight).ok());
    auto by_slot = Send(*router_, 100);
    EXPECT_EQ(by_slot["green"], weight) << "weight " << weight;
    EXPECT_EQ(by_slot["blue"], 100 - weight) << "weight " << weight;
    EXPECT_EQ(router_->Snapshot(Slot::kGreen).requests, static_cast<uint64_t>(weight));
    EXPECT_EQ(router_->Snapshot(Slot::kBlue).requests, static_cast<uint64_t>(100 - weight));
    EXPECT_EQ(router_->Snapshot(Slot::kGreen).errors, 0u);
  }
}

TEST_F(TrafficRouterTest, HealthProbesGoToTheLiveSlotWithoutShiftingTheSplit) {
  ASSERT_TRUE(router_->SetRouting(Slot::kBlue, 50).ok());
  std::map<std::string, int> by_slot;
  for (int i = 0; i < 100; ++i) {
    const HttpReply health = Get(router_->port(), "/health");
    EXPECT_EQ(health.slot, "blue");
    ++by_slot[Complete(router_->port(), 1).slot];
  }
  EXPECT_EQ(by_slot["green"], 50);
  EXPECT_EQ(by_slot["blue"], 50);
  EXPECT_EQ(router_->Snapshot(Slot::kBlue).requests, 50u);
}

TEST_F(TrafficRouterTest, ForwardsBodiesAndHealthUnchanged) {
  ASSERT_TRUE(router_->SetRouting(Slot::kGreen, 0).ok());
  const HttpReply via_router = Complete(router_->port(), 6);
  const HttpReply direct = Complete(green_->port(), 6);
  ASSERT_EQ(via_router.status, 200);
  EXPECT_EQ(via_router.slot, "green");
  EXPECT_EQ(Json::parse(via_router.body), Json::parse(direct.body));
  const HttpReply health = Get(router_->port(), "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(Json::parse(health.body)["digest"], ModelDigest());
  // A client error passes through as a 4xx and is not a slot error.
  EXPECT_EQ(Post(router_->port(), "/v1/completions", "{").status, 400);
  EXPECT_EQ(router_->Snapshot(Slot::kGreen).errors, 0u);
  EXPECT_EQ(router_->Snapshot(Slot::kGreen).requests, 2u);  // the health probe is not counted
}

TEST_F(TrafficRouterTest, PerSlotErrorStatsCountUpstream5xx) {
  FaultOptions fault;
  fault.error_rate = 0.3;
  fault.seed = 3;
  auto faulty = StartServer(fault);
  ASSERT_TRUE(faulty);
  ASSERT_TRUE(router_->SetUpstream(Slot::kGreen, faulty->base_url()).ok());
  ASSERT_TRUE(router_->SetRouting(Slot::kBlue, 100).ok());
  Send(*router_, 100);
  ASSERT_TRUE(router_->SetRouting(Slot::kBlue, 0).ok());
  Send(*router_, 40);
  const SlotStats green = router_->Snapshot(Slot::kGreen);
  const SlotStats blue = router_->Snapshot(Slot::kBlue);
  EXPECT_EQ(green.requests, 100u);
  EXPECT_EQ(green.errors, 30u);
  const std::string metrics = Get(router_->port(), "/router/metrics").body;
  EXPECT_NE(metrics.find("\nedgefarm_router_requests_total{slot=\"green\"} 100\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("\nedgefarm_router_errors_total{slot=\"green\"} 30\n"), std::string::npos);
  EXPECT_DOUBLE_EQ(green.error_rate, 0.3);
  EXPECT_EQ(blue.requests, 40u);
  EXPECT_EQ(blue.errors, 0u);
  EXPECT_GT(green.p50_ms, 0);
  EXPECT_LE(green.p50_ms, green.p95_ms);
  EXPECT_LE(green.p95_ms, green.p99_ms);
}

TEST_F(TrafficRouterTest, CanaryAnalysisOnRealTrafficFailsAFaultyCandidate) {
  FaultOptions fault;
  fault.error_rate = 0.5;
  auto faulty = StartServer(fault);
  ASSERT_TRUE(faulty);
  ASSERT_TRUE(router_->SetUpstream(Slot::kGreen, faulty->base_url()).ok());
  ASSERT_TRUE(router_->SetRouting(Slot::kBlue, 50).ok());
  Send(*router_, 200);
  AnalysisLimits limits;
  limits.max_p95_ratio = 1000;  // judge on errors only: latencies of tiny requests are noise
  const AnalysisResult r =
      CompareSlots(router_->Snapshot(Slot::kGreen), router_->Snapshot(Slot::kBlue), limits);
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.measurements.at("candidate_requests"), 100);
  EXPECT_NE(r.reasons.at(0).find("error rate"), std::string::npos) << r.ToJson();
  // The healthy slot judged as a candidate against the faulty one passes on errors.
  const AnalysisResult healthy =
      CompareSlots(router_->Snapshot(Slot::kBlue), router_->Snapshot(Slot::kGreen), limits);
  EXPECT_EQ(healthy.verdict, Verdict::kPass) << healthy.ToJson();
}

TEST_F(TrafficRouterTest, ConcurrentLoadThroughTheRouterIsCountedPerSlot) {
  FaultOptions fault;
  fault.error_rate = 0.2;
  fault.seed = 4;
  auto faulty = StartServer(fault, 4);
  ASSERT_TRUE(faulty);
  ASSERT_TRUE(router_->SetUpstream(Slot::kGreen, faulty->base_url()).ok());
  ASSERT_TRUE(router_->SetRouting(Slot::kBlue, 50).ok());
  LoadOptions o;
  o.url = router_->base_url();
  o.body = R"({"prompt":"Once upon a time","max_tokens":1})";
  o.requests = 200;
  o.concurrency = 4;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const SlotStats green = router_->Snapshot(Slot::kGreen);
  const SlotStats blue = router_->Snapshot(Slot::kBlue);
  // The split is exact however the 4 clients interleave: 100 each; green's first 100 requests
  // are one fault block, so exactly 20 errors, and the load generator saw the same 20.
  EXPECT_EQ(green.requests, 100u);
  EXPECT_EQ(blue.requests, 100u);
  EXPECT_EQ(green.errors, 20u);
  EXPECT_EQ(blue.errors, 0u);
  EXPECT_EQ(report->requests, 200);
  EXPECT_EQ(report->errors, 20);
}

TEST_F(TrafficRouterTest, UnreachableOrDetachedUpstreamIs502AndAnError) {
  int closed_port = 0;
  {
    auto gone = StartServer();
    ASSERT_TRUE(gone);
    closed_port = gone->port();
  }  // stopped: the port no longer accepts
  ASSERT_TRUE(
      router_->SetUpstream(Slot::kGreen, "http://127.0.0.1:" + std::to_string(closed_port)).ok());
  ASSERT_TRUE(router_->SetRouting(Slot::kBlue, 100).ok());
  const HttpReply reply = Complete(router_->port(), 1);
  EXPECT_EQ(reply.status, 502);
  EXPECT_EQ(reply.slot, "green");
  EXPECT_EQ(Json::parse(reply.body)["error"]["code"], "upstream_unavailable");
  ASSERT_TRUE(router_->SetUpstream(Slot::kGreen, "").ok());
  EXPECT_EQ(Complete(router_->port(), 1).status, 502);
  const SlotStats green = router_->Snapshot(Slot::kGreen);
  EXPECT_EQ(green.requests, 2u);
  EXPECT_EQ(green.errors, 2u);
  EXPECT_EQ(router_->Snapshot(Slot::kBlue).requests, 0u);
}

TEST_F(TrafficRouterTest, SlidingWindowForgetsOldSamples) {
  ManualClock clock;
  auto router = MakeRouter(&clock);
  ASSERT_TRUE(router);
  ASSERT_TRUE(router->SetUpstream(Slot::kBlue, blue_->base_url()).ok());
  Send(*router, 5);
  clock.Advance(std::chrono::seconds(6));
  Send(*router, 3);
  EXPECT_EQ(router->Snapshot(Slot::kBlue).requests, 8u);
  clock.Advance(std::chrono::seconds(5));  // the first 5 are now 11 s old, past the 10 s window
  EXPECT_EQ(router->Snapshot(Slot::kBlue).requests, 3u);
  clock.Advance(std::chrono::seconds(10));
  EXPECT_EQ(router->Snapshot(Slot::kBlue).requests, 0u);
  EXPECT_EQ(router->Snapshot(Slot::kBlue).p95_ms, 0);
}

TEST_F(TrafficRouterTest, StatusEndpointAndValidation) {
  ASSERT_TRUE(router_->SetRouting(Slot::kGreen, 25).ok());
  EXPECT_EQ(router_->live(), Slot::kGreen);
  EXPECT_EQ(router_->candidate_weight(), 25);
  const Json status = Json::parse(Get(router_->port(), "/router/status").body);
  EXPECT_EQ(status["live"], "green");
  EXPECT_EQ(status["candidate"], "blue");
  EXPECT_EQ(status["candidate_weight"], 25);
  EXPECT_EQ(status["slots"]["blue"]["upstream"], blue_->base_url());
  const std::string metrics = Get(router_->port(), "/router/metrics").body;
  EXPECT_NE(metrics.find("\nedgefarm_router_candidate_weight 25\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nedgefarm_router_live{slot=\"green\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("\nedgefarm_router_requests_total{slot=\"blue\"} 0\n"), std::string::npos);
  EXPECT_EQ(router_->SetRouting(Slot::kBlue, 101).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_->SetRouting(Slot::kBlue, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_->candidate_weight(), 25);  // unchanged by the refused calls
  for (const char* bad : {"127.0.0.1:80", "http://127.0.0.1", "http://127.0.0.1:0",
                          "http://127.0.0.1:99999", "https://127.0.0.1:80", "http://h:8x"}) {
    EXPECT_EQ(router_->SetUpstream(Slot::kBlue, bad).code(), StatusCode::kInvalidArgument) << bad;
  }
}

HttpReply Put(int port, const std::string& path, const std::string& body,
              const std::string& token) {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto r = client.Put(path.c_str(), headers, body, "application/json");
  HttpReply reply;
  if (r) {
    reply.status = r->status;
    reply.body = r->body;
  }
  return reply;
}

TEST_F(TrafficRouterTest, AdminApiNeedsTheTokenAndChangesRouting) {
  RouterOptions o = DefaultRouterOptions();
  o.admin_token = "s3cret-admin-token";
  auto created = TrafficRouter::Create(o, nullptr);
  ASSERT_TRUE(created.ok());
  TrafficRouter& router = **created;
  ASSERT_TRUE(router.Start().ok());
  const std::string green_url = Json{{"slot", "green"}, {"url", green_->base_url()}}.dump();
  const std::string routing = R"({"live":"blue","candidate_weight":10})";
  for (const std::string token : {"", "wrong", "s3cret-admin-tokenX"}) {
    const HttpReply denied = Put(router.port(), "/router/routing", routing, token);
    EXPECT_EQ(denied.status, 401) << token;
    EXPECT_EQ(denied.body.find("s3cret"), std::string::npos);
  }
  EXPECT_EQ(router.candidate_weight(), 0);
  const std::string token = o.admin_token;
  EXPECT_EQ(Put(router.port(), "/router/upstream", green_url, token).status, 200);
  EXPECT_EQ(Put(router.port(), "/router/upstream",
                Json{{"slot", "blue"}, {"url", blue_->base_url()}}.dump(), token)
                .status,
            200);
  const HttpReply ok = Put(router.port(), "/router/routing", routing, token);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Json::parse(ok.body)["candidate_weight"], 10);
  EXPECT_EQ(ok.body.find("s3cret"), std::string::npos);
  auto by_slot = Send(router, 100);
  EXPECT_EQ(by_slot["green"], 10);
  EXPECT_EQ(by_slot["blue"], 90);
  for (const std::string bad :
       {"{", R"({"live":"red","candidate_weight":1})", R"({"live":"blue","candidate_weight":101})",
        R"({"live":"blue"})"}) {
    const HttpReply r = Put(router.port(), "/router/routing", bad, token);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Json::parse(r.body)["error"]["code"], "invalid_argument") << bad;
  }
  EXPECT_EQ(router.candidate_weight(), 10);
  httplib::Client client("127.0.0.1", router.port());
  auto reset = client.Post("/router/reset", {{"Authorization", "Bearer " + token}},
                           R"({"slot":"green"})", "application/json");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->status, 200);
  EXPECT_EQ(router.Snapshot(Slot::kGreen).requests, 0u);
  EXPECT_EQ(router.Snapshot(Slot::kBlue).requests, 90u);
  // Without a configured token there is no admin API at all.
  EXPECT_EQ(Put(router_->port(), "/router/routing", routing, token).status, 404);
}

}  // namespace
}  // namespace edgefarm::serving
