// Gate expressions, per-target overrides and verdicts under each no_data policy.
#include "edgefarm/pipelines/gates.h"

#include <gtest/gtest.h>

#include <cmath>

#include "edgefarm/pipelines/pipeline_loader.h"

namespace edgefarm::pipelines {
namespace {

TEST(GatesTest, ParsesExpressions) {
  Result<Gate> gate = ParseGateExpression("  accuracy_retention>=0.95 ");
  ASSERT_TRUE(gate.ok()) << gate.status().message();
  EXPECT_EQ(gate->metric, "accuracy_retention");
  EXPECT_EQ(gate->op, GateOp::kGe);
  EXPECT_DOUBLE_EQ(gate->threshold, 0.95);
  for (const auto& [text, op] :
       std::vector<std::pair<std::string, GateOp>>{{"speedup > 2", GateOp::kGt},
                                                   {"latency_cv <= 0.2", GateOp::kLe},
                                                   {"latency_p95_ms < 100", GateOp::kLt},
                                                   {"top1_agreement == 1", GateOp::kEq},
                                                   {"kld_mean != 0", GateOp::kNe}}) {
    Result<Gate> parsed = ParseGateExpression(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(parsed->op, op) << text;
    EXPECT_EQ(FormatGate(*parsed), text);
  }
  EXPECT_DOUBLE_EQ(ParseGateExpression("model_bytes <= 1e6")->threshold, 1e6);
}

TEST(GatesTest, RejectsBadExpressions) {
  EXPECT_EQ(ParseGateExpression("speedup => 2").status().message(),
            "invalid gate 'speedup => 2': expected one of >=, >, <=, <, ==, != after 'speedup'");
  EXPECT_EQ(ParseGateExpression("speedup >= -1").status().message(),
            "invalid gate 'speedup >= -1': the threshold must not be negative, got -1");
  EXPECT_EQ(ParseGateExpression("sped_up >= 2").status().message(),
            "unknown metric 'sped_up' in gate 'sped_up >= 2' (did you mean 'speedup'?)");
  EXPECT_FALSE(ParseGateExpression("speedup >= 2 extra").ok());
  EXPECT_FALSE(ParseGateExpression("speedup >= nan").ok());
  EXPECT_FALSE(ParseGateExpression("speedup >= inf").ok());
  EXPECT_FALSE(ParseGateExpression(">= 2").ok());
  EXPECT_FALSE(ParseGateExpression("").ok());
}

TEST(GatesTest, EvaluatesTheSeedDefaults) {
  GatesSpec spec;
  spec.gates = DefaultGates();
  const std::map<std::string, double> good = {{"accuracy_retention", 0.97},
                                              {"speedup", 2.5},
                                              {"memory_reduction", 0.7},
                                              {"latency_cv", 0.05}};
  std::vector<GateVerdict> verdicts = EvaluateGates(spec, "intel-x86", good);
  ASSERT_EQ(verdicts.size(), 4u);
  EXPECT_TRUE(AllGatesPassed(verdicts));
  EXPECT_EQ(verdicts[0].metric, "accuracy_retention");
  EXPECT_DOUBLE_EQ(verdicts[0].value.value(), 0.97);
  EXPECT_EQ(verdicts[0].reason, "0.97 >= 0.95");

  std::map<std::string, double> slow = good;
  slow["speedup"] = 1.4;
  verdicts = EvaluateGates(spec, "intel-x86", slow);
  EXPECT_FALSE(AllGatesPassed(verdicts));
  EXPECT_FALSE(verdicts[1].passed);
  EXPECT_EQ(verdicts[1].reason, "1.4 fails >= 2");
  EXPECT_TRUE(verdicts[0].passed);
}

TEST(GatesTest, MissingMetricFollowsTheNoDataPolicy) {
  GatesSpec spec;
  spec.gates = {Gate{"speedup", GateOp::kGe, 2.0, "", {}}};
  const std::map<std::string, double> none = {{"latency_cv", NAN}};
  spec.no_data = NoDataPolicy::kFail;
  std::vector<GateVerdict> v = EvaluateGates(spec, "arm64", none);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].passed);
  EXPECT_FALSE(v[0].skipped);
  EXPECT_FALSE(v[0].value.has_value());
  EXPECT_EQ(v[0].reason, "metric not reported (no_data: fail)");
  spec.no_data = NoDataPolicy::kPass;
  v = EvaluateGates(spec, "arm64", none);
  EXPECT_TRUE(v[0].passed);
  EXPECT_FALSE(v[0].skipped);
  spec.no_data = NoDataPolicy::kSkip;
  v = EvaluateGates(spec, "arm64", none);
  EXPECT_TRUE(v[0].passed);
  EXPECT_TRUE(v[0].skipped);
  EXPECT_TRUE(AllGatesPassed(v));
  // NaN counts as not reported.
  spec.gates = {Gate{"latency_cv", GateOp::kLe, 0.2, "", {}}};
  spec.no_data = NoDataPolicy::kFail;
  EXPECT_FALSE(EvaluateGates(spec, "arm64", none)[0].passed);
}

TEST(GatesTest, TargetOverridesReplaceTheSameMetric) {
  Result<Pipeline> p = LoadPipeline(R"(name: o
gates:
  overrides:
    arm64: [speedup >= 1.2, peak_rss_bytes <= 1000000]
)",
                                    "o.yml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<Gate> arm = EffectiveGates(p->gates, "arm64");
  ASSERT_EQ(arm.size(), 5u);
  EXPECT_EQ(FormatGate(arm[0]), "accuracy_retention >= 0.95");
  EXPECT_EQ(FormatGate(arm[3]), "speedup >= 1.2");
  EXPECT_EQ(arm[3].target, "arm64");
  EXPECT_EQ(FormatGate(arm[4]), "peak_rss_bytes <= 1e+06");
  EXPECT_EQ(EffectiveGates(p->gates, "intel-x86").size(), 4u);
  const std::map<std::string, double> m = {{"accuracy_retention", 0.99},
                                           {"speedup", 1.5},
                                           {"memory_reduction", 0.6},
                                           {"latency_cv", 0.1},
                                           {"peak_rss_bytes", 5e5}};
  EXPECT_TRUE(AllGatesPassed(EvaluateGates(p->gates, "arm64", m)));
  EXPECT_FALSE(AllGatesPassed(EvaluateGates(p->gates, "intel-x86", m)));
}

TEST(GatesTest, AccuracyFloorComesFromTheAccuracyGate) {
  GatesSpec spec;
  spec.gates = DefaultGates();
  EXPECT_DOUBLE_EQ(AccuracyFloor(spec, "x").value(), 0.95);
  spec.overrides["x"] = {Gate{"accuracy_retention", GateOp::kGt, 0.9, "x", {}}};
  EXPECT_DOUBLE_EQ(AccuracyFloor(spec, "x").value(), 0.9);
  spec.gates = {Gate{"speedup", GateOp::kGe, 2, "", {}}};
  EXPECT_FALSE(AccuracyFloor(spec, "y").has_value());
}

TEST(GatesTest, ReadsMetricsFromAnEngineResult) {
  Result<std::map<std::string, double>> metrics = MetricsFromResultJson(
      R"({"schema":"edgefarm.result/v1","framework":"llama_cpp","target":"arm64",)"
      R"("metrics":{"speedup":2.5,"accuracy_retention":0.99,"model_bytes":1000,"note":"x"},)"
      R"("energy":{"available":false}})");
  ASSERT_TRUE(metrics.ok()) << metrics.status().message();
  EXPECT_EQ(metrics->size(), 3u);
  EXPECT_DOUBLE_EQ(metrics->at("speedup"), 2.5);
  EXPECT_DOUBLE_EQ(metrics->at("model_bytes"), 1000);
  GatesSpec spec;  // the seed defaults
  std::vector<GateVerdict> verdicts = EvaluateGates(spec, "arm64", *metrics);
  EXPECT_TRUE(verdicts[0].passed);
  EXPECT_TRUE(verdicts[1].passed);
  EXPECT_FALSE(verdicts[2].passed);  // memory_reduction not reported, no_data: fail
  EXPECT_TRUE(MetricsFromResultJson(R"({"schema":"edgefarm.result/v1"})")->empty());
  EXPECT_FALSE(MetricsFromResultJson("not json").ok());
  EXPECT_FALSE(MetricsFromResultJson("[1,2]").ok());
}

}  // namespace
}  // namespace edgefarm::pipelines
