// The evaluator against llama.cpp's llama-perplexity figures (tests/data fixtures README) over the
// full text, and its building blocks on hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "edgefarm/engine/evaluator.h"
#include "edgefarm/engine/model.h"
#include "edgefarm/engine/quantize.h"
#include "model_test_util.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;

constexpr char kPadded[] = "models/stories260K-ffpad192-f32.gguf";

EvalParams Params(int max_chunks = 0, int threads = 2) {
  EvalParams p = DefaultEvalParams();
  p.n_ctx = 128;
  p.max_chunks = max_chunks;
  p.threads = threads;
  return p;
}

TEST(EvalMathTest, NegLogLikelihoodOfUniformIsLogN) {
  const std::vector<float> logits(512, 3.0f);
  EXPECT_NEAR(NegLogLikelihood(logits, 17), std::log(512.0), 1e-9);
}

TEST(EvalMathTest, KlDivergenceMatchesHandComputation) {
  const std::vector<float> base = {0.0f, std::log(3.0f)};  // p = (1/4, 3/4)
  const std::vector<float> model = {0.0f, 0.0f};           // q = (1/2, 1/2)
  const double expected = 0.25 * std::log(0.5) + 0.75 * std::log(1.5);
  EXPECT_NEAR(KlDivergence(base, model), expected, 1e-7);
  EXPECT_NEAR(KlDivergence(base, base), 0.0, 1e-12);
}

TEST(EvalMathTest, PercentileInterpolatesLikeLlamaPerplexity) {
  const std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(SortedPercentile(v, 0.5), 5.0);
  EXPECT_NEAR(SortedPercentile(v, 0.99), 9.9, 1e-6);
  EXPECT_DOUBLE_EQ(SortedPercentile(v, 1.0), 10.0);
}

TEST(EvaluatorTest, PaddedModelMatchesLlamaPerplexityOverAllChunks) {
  auto model = LoadModel(TestData(kPadded));
  ASSERT_NE(model, nullptr);
  const std::string text = ReadFile(TestData("text/genesis.txt"));
  auto r = Evaluate(*model, text, Params());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chunks, 800);
  EXPECT_EQ(r->scored, 800 * 63);
  EXPECT_NEAR(r->ppl, 50.5918, 50.5918 * 0.005);
  EXPECT_FALSE(r->has_baseline);
}

TEST(EvaluatorTest, OriginalModelMatchesLlamaPerplexityOverAllChunks) {
  auto model = LoadModel(TestData("models/stories260K.gguf"));
  ASSERT_NE(model, nullptr);
  auto r = Evaluate(*model, ReadFile(TestData("text/genesis.txt")), Params());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chunks, 828);
  EXPECT_NEAR(r->ppl, 51.4359, 51.4359 * 0.005);
}

TEST(EvaluatorTest, ResultsDoNotDependOnThreadCount) {
  auto model = LoadModel(TestData(kPadded));
  ASSERT_NE(model, nullptr);
  const std::string text = ReadFile(TestData("text/genesis.txt"));
  auto one = Evaluate(*model, text, Params(6, 1), model.get());
  auto two = Evaluate(*model, text, Params(6, 2), model.get());
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->chunks, 6);
  EXPECT_DOUBLE_EQ(one->ppl, two->ppl);
  EXPECT_DOUBLE_EQ(one->kld_mean, two->kld_mean);
  // A model against itself: no divergence, full agreement, equal perplexities.
  EXPECT_NEAR(one->kld_mean, 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(one->top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(one->ppl, one->baseline_ppl);
}

TEST(EvaluatorTest, ReportsProgressAndRejectsShortText) {
  auto model = LoadModel(TestData(kPadded));
  ASSERT_NE(model, nullptr);
  int last = 0;
  auto r = Evaluate(*model, ReadFile(TestData("text/genesis.txt")), Params(3, 2), nullptr,
                    [&](int done, int total) {
                      EXPECT_EQ(total, 3);
                      last = std::max(last, done);
                    });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(last, 3);
  auto short_text = Evaluate(*model, "In the beginning", Params());
  EXPECT_EQ(short_text.status().code(), StatusCode::kInvalidArgument);
}

struct KldCase {
  const char* scheme;
  bool pure;
  double kld;       // llama-perplexity --kl-divergence, mean KLD
  double same_top;  // "same top p", fraction
  double ppl_ratio;
};

class KldTest : public ::testing::TestWithParam<KldCase> {};

TEST_P(KldTest, MatchesLlamaPerplexityAgainstTheF32Baseline) {
  const KldCase& c = GetParam();
  TempDir dir;
  QuantizeParams qp = DefaultQuantizeParams();
  qp.scheme = c.scheme;
  qp.pure = c.pure;
  qp.threads = 2;
  auto report = QuantizeModel(TestData(kPadded), dir / "q.gguf", qp);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  auto base = LoadModel(TestData(kPadded));
  auto quant = LoadModel(dir / "q.gguf");
  ASSERT_TRUE(base && quant);
  auto r = Evaluate(*quant, ReadFile(TestData("text/genesis.txt")), Params(), base.get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chunks, 800);
  EXPECT_NEAR(r->kld_mean, c.kld, c.kld * 0.05);
  EXPECT_NEAR(r->top1_agreement, c.same_top, 0.005);
  EXPECT_NEAR(r->ppl_ratio, c.ppl_ratio, 0.002);
  EXPECT_NEAR(r->baseline_ppl, 50.5918, 50.5918 * 0.005);
  EXPECT_GT(r->kld_p99, r->kld_mean);
}

INSTANTIATE_TEST_SUITE_P(LlamaCppFigures, KldTest,
                         ::testing::Values(KldCase{"q8_0", false, 0.001494, 0.96704, 0.99972},
                                           KldCase{"q4_0", false, 0.154164, 0.69468, 0.98655},
                                           KldCase{"q4_0", true, 0.182944, 0.66290, 1.03689}),
                         [](const auto& info) {
                           return std::string(info.param.scheme) + (info.param.pure ? "_pure" : "");
                         });

}  // namespace
}  // namespace edgefarm::engine
