#include "edgefarm/serving/fault_schedule.h"

#include <gtest/gtest.h>

#include <vector>

#include "edgefarm/serving/latency_stats.h"

namespace edgefarm::serving {
namespace {

int FailuresIn(const FaultSchedule& s, uint64_t from, uint64_t count) {
  int n = 0;
  for (uint64_t i = from; i < from + count; ++i) n += s.ShouldFail(i) ? 1 : 0;
  return n;
}

TEST(FaultScheduleTest, EveryBlockOfHundredCarriesTheExactFraction) {
  for (double rate : {0.0, 0.01, 0.1, 0.25, 0.5, 0.99, 1.0}) {
    for (uint64_t seed : {1u, 7u, 12345u}) {
      FaultSchedule s(rate, seed);
      for (uint64_t block = 0; block < 5; ++block) {
        EXPECT_EQ(FailuresIn(s, block * 100, 100), static_cast<int>(rate * 100 + 0.5))
            << "rate " << rate << " seed " << seed << " block " << block;
      }
    }
  }
}

TEST(FaultScheduleTest, SameSeedSamePositionsOtherSeedOtherPositions) {
  FaultSchedule a(0.2, 42), b(0.2, 42), c(0.2, 43);
  std::vector<bool> pa, pb, pc;
  for (uint64_t i = 0; i < 300; ++i) {
    pa.push_back(a.ShouldFail(i));
    pb.push_back(b.ShouldFail(i));
    pc.push_back(c.ShouldFail(i));
  }
  EXPECT_EQ(pa, pb);
  EXPECT_NE(pa, pc);
}

TEST(FaultScheduleTest, RatesOutsideRangeAreClamped) {
  EXPECT_EQ(FaultSchedule(-1, 1).failures_per_block(), 0);
  EXPECT_EQ(FaultSchedule(2, 1).failures_per_block(), 100);
}

TEST(LatencyStatsTest, NearestRankPercentiles) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // unsorted on purpose
  const LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p95_ms, 95);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_EQ(s.max_ms, 100);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  EXPECT_EQ(Summarize({}).p95_ms, 0);
  EXPECT_EQ(Summarize({7}).p99_ms, 7);
}

}  // namespace
}  // namespace edgefarm::serving
