// The load generator against real inference servers on 127.0.0.1.
#include "edgefarm/serving/load_generator.h"

#include <gtest/gtest.h>

#include "serving_test_util.h"

namespace edgefarm::serving {
namespace {

using namespace testing;

LoadOptions Count(const InferenceServer& server, int64_t requests, int concurrency) {
  LoadOptions o;
  o.url = server.base_url();
  o.body = R"({"prompt":"Once upon a time","max_tokens":2})";
  o.requests = requests;
  o.concurrency = concurrency;
  return o;
}

void ExpectSanePercentiles(const LoadReport& r) {
  EXPECT_GT(r.p50_ms, 0);
  EXPECT_LE(r.p50_ms, r.p95_ms);
  EXPECT_LE(r.p95_ms, r.p99_ms);
  EXPECT_LE(r.p99_ms, r.max_ms);
  EXPECT_GT(r.throughput_rps, 0);
  EXPECT_GT(r.elapsed_s, 0);
}

TEST(LoadGeneratorTest, CountModeSendsExactlyTheRequestedNumber) {
  auto server = StartServer({}, 4);
  ASSERT_TRUE(server);
  auto report = RunLoad(Count(*server, 40, 4));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->requests, 40);
  EXPECT_EQ(report->errors, 0);
  EXPECT_EQ(report->error_rate, 0);
  EXPECT_EQ(report->status_counts.at(200), 40);
  ExpectSanePercentiles(*report);
  // The server saw exactly those requests.
  const std::string metrics = Get(server->port(), "/metrics").body;
  EXPECT_NE(metrics.find("\nedgefarm_request_duration_seconds_count 40\n"), std::string::npos)
      << metrics;
}

TEST(LoadGeneratorTest, CountsInjectedErrorsExactly) {
  FaultOptions fault;
  fault.error_rate = 0.25;
  fault.seed = 5;
  auto server = StartServer(fault, 4);
  ASSERT_TRUE(server);
  auto report = RunLoad(Count(*server, 100, 4));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->requests, 100);
  EXPECT_EQ(report->errors, 25);
  EXPECT_DOUBLE_EQ(report->error_rate, 0.25);
  EXPECT_EQ(report->status_counts.at(500), 25);
  EXPECT_EQ(report->status_counts.at(200), 75);
}

TEST(LoadGeneratorTest, InjectedLatencyBoundsPercentilesFromBelow) {
  FaultOptions fault;
  fault.latency_ms = 25;
  auto server = StartServer(fault, 2);
  ASSERT_TRUE(server);
  auto report = RunLoad(Count(*server, 6, 2));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->requests, 6);
  EXPECT_GE(report->p50_ms, 25);
  EXPECT_GE(report->mean_ms, 25);
}

TEST(LoadGeneratorTest, DurationModeStopsAfterTheDuration) {
  auto server = StartServer({}, 2);
  ASSERT_TRUE(server);
  LoadOptions o = Count(*server, 0, 2);
  o.duration = std::chrono::milliseconds(200);
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok());
  EXPECT_GT(report->requests, 0);
  EXPECT_GE(report->elapsed_s, 0.2);  // a lower bound: it never stops early
  EXPECT_EQ(report->errors, 0);
  ExpectSanePercentiles(*report);
}

TEST(LoadGeneratorTest, UnreachableTargetCountsEveryRequestAsAnError) {
  int closed_port = 0;
  {
    auto gone = StartServer();
    ASSERT_TRUE(gone);
    closed_port = gone->port();
  }
  LoadOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(closed_port);
  o.requests = 5;
  o.concurrency = 1;
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->requests, 5);
  EXPECT_EQ(report->errors, 5);
  EXPECT_EQ(report->status_counts.at(0), 5);
}

TEST(LoadGeneratorTest, RefusesNonLoopbackTargetsAndUnboundedRuns) {
  LoadOptions o;
  o.url = "http://127.0.0.1:8080";
  o.requests = 1;
  EXPECT_TRUE(RunLoad([&] {
                auto c = o;
                c.url = "http://10.1.2.3:80";
                return c;
              }())
                  .status()
                  .message()
                  .find("loopback") != std::string::npos);
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.url = "http://example.com:80";
                 return c;
               }())
                   .ok());
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.url = "127.0.0.1:80";
                 return c;
               }())
                   .ok());
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.requests = 0;
                 return c;
               }())
                   .ok());  // neither bound
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.duration = std::chrono::seconds(1);
                 return c;
               }())
                   .ok());  // both bounds
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.requests = kMaxRequests + 1;
                 return c;
               }())
                   .ok());
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.concurrency = 0;
                 return c;
               }())
                   .ok());
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.concurrency = kMaxConcurrency + 1;
                 return c;
               }())
                   .ok());
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.method = "DELETE";
                 return c;
               }())
                   .ok());
  EXPECT_FALSE(RunLoad([&] {
                 auto c = o;
                 c.requests = 0;
                 c.duration = kMaxDuration + std::chrono::seconds(1);
                 return c;
               }())
                   .ok());
}

}  // namespace
}  // namespace edgefarm::serving
