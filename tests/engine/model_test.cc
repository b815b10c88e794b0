// LlamaModel loading and the forward pass on the real stories260K model.
#include "edgefarm/engine/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "edgefarm/engine/generate.h"
#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/tokenizer.h"
#include "model_test_util.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;

std::unique_ptr<LlamaModel> LoadStories(const std::string& name = "stories260K.gguf") {
  return LoadModel(TestData("models/" + name));
}

std::unique_ptr<LlamaContext> MakeContext(const LlamaModel& m, int threads,
                                          KernelPath path = KernelPath::kAuto) {
  ContextParams p = DefaultContextParams();
  p.n_ctx = 128;
  p.n_batch = 128;
  p.threads = threads;
  p.kernel_path = path;
  auto ctx = LlamaContext::Create(m, p);
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  return ctx.ok() ? std::move(*ctx) : nullptr;
}

// Rewrites `src` into `dst`, letting `edit` drop (return false) or change tensors.
using TensorEdit = std::function<bool(std::string& name, std::vector<int64_t>& shape)>;
void RewriteModel(const std::filesystem::path& src, const std::filesystem::path& dst,
                  const TensorEdit& edit) {
  auto file = GgufFile::Open(src);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  GgufWriter w((*file)->alignment());
  w.SetMetadata((*file)->metadata());
  for (const GgufTensorInfo& t : (*file)->tensors()) {
    std::string name = t.name;
    std::vector<int64_t> shape = t.shape;
    if (!edit(name, shape)) continue;
    w.AddTensor(name, t.type, shape, (*file)->TensorData(t), t.size_bytes);
  }
  ASSERT_TRUE(w.WriteTo(dst).ok());
}

TEST(LlamaModelTest, ReadsHyperparametersOfStories260K) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  const LlamaHparams& h = model->hparams();
  EXPECT_EQ(h.n_embd, 64);
  EXPECT_EQ(h.n_layer, 5);
  EXPECT_EQ(h.n_head, 8);
  EXPECT_EQ(h.n_head_kv, 4);
  EXPECT_EQ(h.n_ff, 172);
  EXPECT_EQ(h.n_vocab, 512);
  EXPECT_EQ(h.head_dim, 8);
  EXPECT_EQ(h.n_rot, 8);
  EXPECT_GT(h.n_ctx_train, 0);
  EXPECT_FLOAT_EQ(h.rope_freq_base, 10000.0f);
  EXPECT_EQ(model->layers().size(), 5u);
  EXPECT_GT(model->tensor_bytes(), 0u);
  EXPECT_GT(model->file_bytes(), model->tensor_bytes());
}

TEST(LlamaModelTest, GreedyGenerationMatchesLlamaCpp) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  GenerateParams p = DefaultGenerateParams();
  p.prompt = "Once upon a time";
  p.n_predict = 40;
  std::string streamed;
  auto r = Generate(*model, p, [&](std::string_view piece) { streamed += piece; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // llama.cpp (llama-cli --temp 0 -n 60) prints this continuation for the same prompt.
  EXPECT_EQ(r->text.substr(0, 84),
            ", there was a little girl named Lily. She loved to play outside in the park. One "
            "day");
  EXPECT_EQ(r->tokens.size(), 40u);
  EXPECT_EQ(r->prompt_tokens.front(), model->tokenizer().bos());
  EXPECT_FALSE(streamed.empty());
}

TEST(LlamaModelTest, SampledGenerationIsReproducibleForASeed) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  GenerateParams p = DefaultGenerateParams();
  p.prompt = "The dog";
  p.n_predict = 24;
  p.temperature = 0.8f;
  p.seed = 7;
  auto a = Generate(*model, p);
  auto b = Generate(*model, p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
}

TEST(LlamaModelTest, LogitsAreFiniteAndBatchEqualsStepByStep) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> tokens =
      model->tokenizer().Encode("Lily and Ben went to the park to play.", true);
  const size_t nv = static_cast<size_t>(model->hparams().n_vocab);
  auto batch_ctx = MakeContext(*model, 2);
  auto step_ctx = MakeContext(*model, 1);
  ASSERT_TRUE(batch_ctx && step_ctx);
  auto all = batch_ctx->Forward(tokens, 0, LogitsMode::kAll);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), tokens.size() * nv);
  const std::vector<float> batch(all->begin(), all->end());
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto step = step_ctx->Forward(std::span(&tokens[t], 1), static_cast<int>(t), LogitsMode::kLast);
    ASSERT_TRUE(step.ok());
    for (size_t i = 0; i < nv; ++i) {
      ASSERT_TRUE(std::isfinite((*step)[i]));
      ASSERT_NEAR((*step)[i], batch[t * nv + i], 1e-3f * (1 + std::fabs(batch[t * nv + i])))
          << "token " << t << " logit " << i;
    }
  }
}

TEST(LlamaModelTest, ScalarKernelPathAgreesWithAuto) {
  auto model = LoadStories("stories260K-ffpad192-f32.gguf");
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> tokens = model->tokenizer().Encode("Once upon a time", true);
  auto fast = MakeContext(*model, 2, KernelPath::kAuto);
  auto scalar = MakeContext(*model, 1, KernelPath::kScalar);
  ASSERT_TRUE(fast && scalar);
  auto a = fast->Forward(tokens, 0, LogitsMode::kAll);
  ASSERT_TRUE(a.ok());
  const std::vector<float> av(a->begin(), a->end());
  auto b = scalar->Forward(tokens, 0, LogitsMode::kAll);
  ASSERT_TRUE(b.ok());
  for (size_t i = 0; i < av.size(); ++i)
    ASSERT_NEAR(av[i], (*b)[i], 1e-3f * (1 + std::fabs(av[i])));
}

TEST(LlamaModelTest, RejectsBadBatches) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  auto ctx = MakeContext(*model, 1);
  ASSERT_NE(ctx, nullptr);
  const int32_t bad[] = {1, 512};
  EXPECT_EQ(ctx->Forward(bad, 0, LogitsMode::kLast).status().code(), StatusCode::kInvalidArgument);
  const int32_t neg[] = {-1};
  EXPECT_FALSE(ctx->Forward(neg, 0, LogitsMode::kLast).ok());
  const int32_t one[] = {1};
  EXPECT_FALSE(ctx->Forward(one, 128, LogitsMode::kLast).ok());
  EXPECT_FALSE(ctx->Forward(std::span<const int32_t>(), 0, LogitsMode::kLast).ok());
  EXPECT_TRUE(ctx->Forward(one, 127, LogitsMode::kLast).ok());
}

TEST(LlamaModelTest, MissingTensorIsNamed) {
  TempDir dir;
  RewriteModel(
      TestData("models/stories260K.gguf"), dir / "m.gguf",
      [](std::string& name, std::vector<int64_t>&) { return name != "blk.3.ffn_up.weight"; });
  auto model = LlamaModel::Load(dir / "m.gguf");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("blk.3.ffn_up.weight"), std::string::npos)
      << model.status().ToString();
}

TEST(LlamaModelTest, WrongShapeIsNamed) {
  TempDir dir;
  RewriteModel(TestData("models/stories260K.gguf"), dir / "m.gguf",
               [](std::string& name, std::vector<int64_t>& shape) {
                 if (name == "blk.1.attn_k.weight") std::swap(shape[0], shape[1]);
                 return true;
               });
  auto model = LlamaModel::Load(dir / "m.gguf");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("blk.1.attn_k.weight"), std::string::npos)
      << model.status().ToString();
}

TEST(LlamaModelTest, TiedOutputUsesTokenEmbedding) {
  TempDir dir;
  RewriteModel(TestData("models/stories260K.gguf"), dir / "m.gguf",
               [](std::string& name, std::vector<int64_t>&) { return name != "output.weight"; });
  auto model = LlamaModel::Load(dir / "m.gguf");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->output().data, (*model)->token_embd().data);
}

TEST(LlamaModelTest, ParsesKernelPathNames) {
  EXPECT_EQ(*ParseKernelPath("scalar"), KernelPath::kScalar);
  EXPECT_EQ(*ParseKernelPath("AVX512"), KernelPath::kAvx512);
  EXPECT_EQ(*ParseKernelPath("auto"), KernelPath::kAuto);
  EXPECT_FALSE(ParseKernelPath("sse9").ok());
}

}  // namespace
}  // namespace edgefarm::engine
