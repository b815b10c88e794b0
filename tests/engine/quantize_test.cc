// QuantizeModel against llama-quantize's output for the padded stories260K model: every tensor's
// name, type, shape and data hash must match the golden tables produced with llama.cpp.
#include "edgefarm/engine/quantize.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "edgefarm/common/sha256.h"
#include "edgefarm/engine/gguf.h"
#include "golden_tensors.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;

std::vector<TensorLine> ReadGolden(const std::string& name) {
  std::ifstream in(TestData("golden/" + name));
  std::vector<TensorLine> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("sha256=") == std::string::npos) continue;  // summary lines
    std::istringstream is(line);
    TensorLine l;
    is >> l.name >> l.type;
    std::string rest;
    std::getline(is, rest);
    const size_t open = rest.find('['), close = rest.find(']'), h = rest.find("sha256=");
    l.shape = rest.substr(open, close - open + 1);
    l.hash = rest.substr(h + 7, 16);
    lines.push_back(l);
  }
  return lines;
}

std::vector<TensorLine> Describe(const std::filesystem::path& path) {
  auto file = GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  std::vector<TensorLine> lines;
  if (!file.ok()) return lines;
  for (const GgufTensorInfo& t : (*file)->tensors()) lines.push_back(DescribeTensor(**file, t));
  return lines;
}

struct GoldenCase {
  std::string scheme;
  bool pure;
  std::string golden;
};

class QuantizeGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(QuantizeGoldenTest, MatchesLlamaQuantizeTensorByTensor) {
  const GoldenCase& c = GetParam();
  const std::vector<TensorLine> golden = ReadGolden(c.golden);
  if (golden.empty()) GTEST_SKIP() << "no golden file " << c.golden;
  TempDir dir;
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme = c.scheme;
  params.pure = c.pure;
  params.threads = 3;
  auto report =
      QuantizeModel(TestData("models/stories260K-ffpad192-f32.gguf"), dir / "q.gguf", params);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::vector<TensorLine> ours = Describe(dir / "q.gguf");
  ASSERT_EQ(ours.size(), golden.size());
  for (size_t i = 0; i < golden.size(); ++i) EXPECT_EQ(ours[i], golden[i]) << "tensor " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Stories260K, QuantizeGoldenTest,
    ::testing::Values(GoldenCase{"q8_0", false, "stories260K-ffpad192-Q8_0.tensors.txt"},
                      GoldenCase{"q4_0", false, "stories260K-ffpad192-Q4_0.tensors.txt"},
                      GoldenCase{"q4_0", true, "stories260K-ffpad192-Q4_0-pure.tensors.txt"},
                      GoldenCase{"q4_k_m", false, "stories260K-ffpad192-Q4_K_M.tensors.txt"}),
    [](const auto& info) { return info.param.scheme + (info.param.pure ? "_pure" : ""); });

TEST(QuantizeTest, WritesLlamaCppMetadata) {
  TempDir dir;
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme = "q4_k_m";
  ASSERT_TRUE(QuantizeModel(TestData("models/stories260K.gguf"), dir / "q.gguf", params).ok());
  auto in = GgufFile::Open(TestData("models/stories260K.gguf"));
  auto out = GgufFile::Open(dir / "q.gguf");
  ASSERT_TRUE(in.ok() && out.ok());
  const GgufMetadata& md = (*out)->metadata();
  ASSERT_EQ(md.size(), (*in)->metadata().size() + 2);
  for (size_t i = 0; i < (*in)->metadata().size(); ++i) {
    EXPECT_EQ(md[i].first, (*in)->metadata()[i].first);
  }
  EXPECT_EQ(md[md.size() - 2].first, "general.quantization_version");
  EXPECT_EQ((*out)->GetInt("general.quantization_version"), 2);
  EXPECT_EQ(md.back().first, "general.file_type");
  EXPECT_EQ((*out)->GetInt("general.file_type"), 15);
}

// stories260K's n_ff = 172 divides into no block: those tensors fall back and are reported.
TEST(QuantizeTest, ReportsFallbacksForUndividableRows) {
  TempDir dir;
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme = "q4_0";
  auto report = QuantizeModel(TestData("models/stories260K.gguf"), dir / "q.gguf", params);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  int down = 0;
  for (const TensorQuantizeRecord& r : report->tensors) {
    if (r.name.find("ffn_down") != std::string::npos) {
      ++down;
      EXPECT_EQ(r.to, TensorType::kF32) << r.name;  // kept in source precision
      EXPECT_EQ(r.wanted, TensorType::kQ4_0) << r.name;
      EXPECT_NE(r.fallback_reason.find("row length 172"), std::string::npos) << r.fallback_reason;
    }
    if (r.name == "blk.0.ffn_up.weight") {
      EXPECT_EQ(r.to, TensorType::kQ4_0);
      EXPECT_EQ(r.wanted, TensorType::kQ4_0);
    }
    if (r.name == "blk.0.attn_norm.weight") {
      EXPECT_EQ(r.to, TensorType::kF32);
    }
  }
  EXPECT_EQ(down, 5);
  EXPECT_LT(report->bytes_out, report->bytes_in);
  EXPECT_GT(report->file_bytes_out, report->bytes_out);
  // The file loads back and holds what the report says.
  auto out = GgufFile::Open(dir / "q.gguf");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)->FindTensor("blk.3.ffn_down.weight")->type, TensorType::kF32);
}

TEST(QuantizeTest, EdgefarmSchemesPickTheirTypes) {
  struct Case {
    std::string scheme;
    TensorType q, embd;
  };
  for (const Case& c :
       {Case{"int8_sym_pc", TensorType::kEfI8SymPerChannel, TensorType::kEfI8SymPerChannel},
        Case{"int4_sym_g128", TensorType::kEfI8SymPerChannel, TensorType::kEfI8SymPerChannel},
        Case{"int4_affine_g64", TensorType::kEfI4AffineG64, TensorType::kEfI4AffineG64}}) {
    TempDir dir;
    QuantizeParams params = DefaultQuantizeParams();
    params.scheme = c.scheme;
    auto report =
        QuantizeModel(TestData("models/stories260K-ffpad192-f32.gguf"), dir / "q.gguf", params);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    auto out = GgufFile::Open(dir / "q.gguf");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    // attn_q rows are 64 long: below int4_sym's group of 128, so they fall back to int8.
    EXPECT_EQ((*out)->FindTensor("blk.0.attn_q.weight")->type, c.q) << c.scheme;
    EXPECT_EQ((*out)->FindTensor("token_embd.weight")->type, c.embd) << c.scheme;
    EXPECT_EQ((*out)->FindTensor("output_norm.weight")->type, TensorType::kF32);
    EXPECT_EQ((*out)->GetString("edgefarm.quantization.scheme"), c.scheme);
  }
}

TEST(QuantizeTest, ResultDoesNotDependOnThreadCount) {
  TempDir dir;
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme = "q4_k_m";
  params.threads = 1;
  ASSERT_TRUE(QuantizeModel(TestData("models/stories260K.gguf"), dir / "a.gguf", params).ok());
  params.threads = 4;
  ASSERT_TRUE(QuantizeModel(TestData("models/stories260K.gguf"), dir / "b.gguf", params).ok());
  EXPECT_EQ(*Sha256File(dir / "a.gguf"), *Sha256File(dir / "b.gguf"));
}

TEST(QuantizeTest, RejectsUnknownSchemeAndMissingInput) {
  TempDir dir;
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme = "q3_xyz";
  auto r = QuantizeModel(TestData("models/stories260K.gguf"), dir / "q.gguf", params);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("q4_k_m"), std::string::npos);
  params.scheme = "q8_0";
  r = QuantizeModel(dir / "missing.gguf", dir / "q.gguf", params);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "q.gguf"));
}

TEST(QuantizeTest, RefusesToRequantize) {
  TempDir dir;
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme = "q8_0";
  ASSERT_TRUE(
      QuantizeModel(TestData("models/stories260K-ffpad192-f32.gguf"), dir / "a.gguf", params).ok());
  params.scheme = "q4_0";
  auto r = QuantizeModel(dir / "a.gguf", dir / "b.gguf", params);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgefarm::engine
