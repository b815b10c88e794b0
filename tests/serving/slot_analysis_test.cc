#include "edgefarm/serving/slot_analysis.h"

#include <gtest/gtest.h>

#include "edgefarm/serving/traffic_router.h"

namespace edgefarm::serving {
namespace {

SlotStats Stats(uint64_t requests, uint64_t errors, double p95_ms) {
  SlotStats s;
  s.requests = requests;
  s.errors = errors;
  s.error_rate = requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0;
  s.p50_ms = p95_ms / 2;
  s.p95_ms = p95_ms;
  s.p99_ms = p95_ms;
  return s;
}

AnalysisLimits Limits() {
  AnalysisLimits l;
  l.max_error_rate = 0.05;
  l.max_p95_ratio = 1.5;
  l.min_requests = 20;
  return l;
}

TEST(CompareSlotsTest, HealthyCandidatePasses) {
  const AnalysisResult r = CompareSlots(Stats(100, 1, 12), Stats(100, 0, 10), Limits());
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_TRUE(r.reasons.empty());
  EXPECT_DOUBLE_EQ(r.measurements.at("p95_ratio"), 1.2);
}

TEST(CompareSlotsTest, ErrorRateAboveLimitFails) {
  const AnalysisResult r = CompareSlots(Stats(100, 10, 10), Stats(100, 0, 10), Limits());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_NE(r.reasons[0].find("error rate 0.1 above limit 0.05"), std::string::npos)
      << r.reasons[0];
}

TEST(CompareSlotsTest, SlowCandidateFailsOnP95Ratio) {
  const AnalysisResult r = CompareSlots(Stats(100, 0, 40), Stats(100, 0, 10), Limits());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  ASSERT_EQ(r.reasons.size(), 1u);
  EXPECT_NE(r.reasons[0].find("4x the live p95"), std::string::npos) << r.reasons[0];
}

TEST(CompareSlotsTest, TooFewCandidateRequestsIsInconclusiveNeverPass) {
  const AnalysisResult r = CompareSlots(Stats(5, 0, 10), Stats(100, 0, 10), Limits());
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_NE(r.reasons.at(0).find("too few candidate requests: 5 < 20"), std::string::npos);
  // Even all errors on 5 requests is not evidence enough to judge.
  EXPECT_EQ(CompareSlots(Stats(5, 5, 10), Stats(100, 0, 10), Limits()).verdict,
            Verdict::kInconclusive);
  EXPECT_EQ(CompareSlots(Stats(0, 0, 0), Stats(0, 0, 0), Limits()).verdict, Verdict::kInconclusive);
}

TEST(CompareSlotsTest, MissingLiveBaselineIsInconclusiveUnlessErrorsAlreadyFail) {
  EXPECT_EQ(CompareSlots(Stats(100, 0, 10), Stats(3, 0, 10), Limits()).verdict,
            Verdict::kInconclusive);
  const AnalysisResult r = CompareSlots(Stats(100, 50, 10), Stats(3, 0, 10), Limits());
  EXPECT_EQ(r.verdict, Verdict::kFail);
  EXPECT_EQ(r.reasons.size(), 2u);  // the failure and the missing baseline, both explained
}

TEST(CompareSlotsTest, LiveP95FloorKeepsRatioFinite) {
  const AnalysisResult r = CompareSlots(Stats(100, 0, 1.2), Stats(100, 0, 0), Limits());
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_DOUBLE_EQ(r.measurements.at("p95_ratio"), 1.2);
}

TEST(CompareSlotsTest, JsonCarriesVerdictReasonsAndMeasurements) {
  const std::string json = CompareSlots(Stats(100, 10, 10), Stats(100, 0, 10), Limits()).ToJson();
  EXPECT_NE(json.find("\"verdict\":\"fail\""), std::string::npos) << json;
  EXPECT_NE(json.find("candidate_error_rate"), std::string::npos) << json;
}

TEST(WeightedSplitTest, ExactlyWeightOfEveryHundredGoToTheCandidate) {
  WeightedSplit split;
  for (int w = 0; w <= 100; ++w) {
    split.Reset(w);
    for (int round = 0; round < 3; ++round) {
      int candidate = 0;
      for (int i = 0; i < 100; ++i) candidate += split.NextIsCandidate() ? 1 : 0;
      EXPECT_EQ(candidate, w) << "weight " << w << " round " << round;
    }
  }
}

TEST(WeightedSplitTest, CandidateRequestsAreSpreadNotBunched) {
  WeightedSplit split;
  split.Reset(10);
  int first_ten = 0;
  for (int i = 0; i < 10; ++i) first_ten += split.NextIsCandidate() ? 1 : 0;
  EXPECT_EQ(first_ten, 1);
}

TEST(SlotNameTest, RoundTrips) {
  EXPECT_EQ(SlotName(Slot::kBlue), "blue");
  EXPECT_EQ(*ParseSlot("green"), Slot::kGreen);
  EXPECT_FALSE(ParseSlot("purple").ok());
  EXPECT_EQ(OtherSlot(Slot::kBlue), Slot::kGreen);
}

}  // namespace
}  // namespace edgefarm::serving
