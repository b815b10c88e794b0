// GGUF reader/writer against the real stories260K fixture, plus type traits and fp16 conversion.
#include "edgefarm/engine/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "edgefarm/engine/tensor_types.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;

TEST(TensorTypesTest, TraitsAndRowBytesMatchGgml) {
  EXPECT_EQ(RowBytes(TensorType::kF32, 64), 256u);
  EXPECT_EQ(RowBytes(TensorType::kF16, 64), 128u);
  EXPECT_EQ(RowBytes(TensorType::kQ8_0, 64), 68u);
  EXPECT_EQ(RowBytes(TensorType::kQ4_0, 64), 36u);
  EXPECT_EQ(RowBytes(TensorType::kQ5_0, 64), 44u);
  EXPECT_EQ(RowBytes(TensorType::kQ4_K, 512), 288u);
  EXPECT_EQ(RowBytes(TensorType::kQ6_K, 256), 210u);
  EXPECT_EQ(RowBytes(TensorType::kQ4_0, 172), 0u);
  EXPECT_EQ(RowBytes(TensorType::kEfI8SymPerChannel, 172), 176u);
  EXPECT_EQ(RowBytes(TensorType::kEfI4SymG128, 256), 132u);
  EXPECT_EQ(RowBytes(TensorType::kEfI4AffineG64, 128), 72u);
  EXPECT_EQ(GetTypeTraits(TensorType::kQ4_K)->name, "q4_K");
  EXPECT_FALSE(TensorTypeFromId(4).has_value());  // removed Q4_2
  EXPECT_FALSE(TensorTypeFromId(12345).has_value());
  EXPECT_EQ(TensorTypeFromId(6), TensorType::kQ5_0);
}

TEST(TensorTypesTest, Fp16RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = Fp16ToFp32(static_cast<Fp16>(h));
    if (std::isnan(f)) {
      EXPECT_EQ(Fp32ToFp16(f) & 0x7E00u, 0x7E00u);
      continue;
    }
    ASSERT_EQ(Fp32ToFp16(f), h) << "half 0x" << std::hex << h;
  }
}

// The compiler's _Float16 conversion rounds to nearest even like F16C; our integer code must
// agree with it on a dense sweep of float32 bit patterns, including every exponent boundary.
TEST(TensorTypesTest, Fp32ToFp16RoundsToNearestEven) {
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 0x1FFF) {
    float f;
    const uint32_t b = static_cast<uint32_t>(bits);
    std::memcpy(&f, &b, sizeof(f));
    if (std::isnan(f)) continue;
    const _Float16 ref = static_cast<_Float16>(f);
    uint16_t ref_bits;
    std::memcpy(&ref_bits, &ref, sizeof(ref_bits));
    ASSERT_EQ(Fp32ToFp16(f), ref_bits) << "float bits 0x" << std::hex << b;
    ASSERT_EQ(Fp16ToFp32(ref_bits), static_cast<float>(ref));
  }
  // Exact ties: 1 + 2^-11 rounds down to 1 (even), 1 + 3*2^-11 rounds up.
  EXPECT_EQ(Fp32ToFp16(1.0f + 0x1p-11f), 0x3C00u);
  EXPECT_EQ(Fp32ToFp16(1.0f + 3 * 0x1p-11f), 0x3C02u);
  EXPECT_EQ(Fp32ToFp16(65520.0f), 0x7C00u);
  EXPECT_EQ(Fp32ToFp16(65519.0f), 0x7BFFu);
}

TEST(GgufTest, ReadsStories260K) {
  auto file = GgufFile::Open(TestData("models/stories260K.gguf"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.GetString("general.architecture"), "llama");
  EXPECT_EQ(f.GetInt("llama.embedding_length"), 64);
  EXPECT_EQ(f.GetInt("llama.feed_forward_length"), 172);
  EXPECT_NEAR(*f.GetFloat("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-9);
  const GgufArray* tokens = f.Find("tokenizer.ggml.tokens")->AsArray();
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->values.size(), 512u);
  EXPECT_EQ(tokens->values[1].AsString(), "<s>");
  const GgufTensorInfo* embd = f.FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->Rows(), 512);
  EXPECT_EQ(embd->size_bytes, 64u * 512 * 4);
  const GgufTensorInfo* down = f.FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->shape, (std::vector<int64_t>{172, 64}));
  // Data pointers stay inside the mapping.
  const GgufTensorInfo& last = f.tensors().back();
  EXPECT_LE(f.TensorData(last) + last.size_bytes,
            f.TensorData(f.tensors().front()) + (f.file_size() - f.data_offset()));
}

// Rewriting a ggml-written v3 file with the same metadata and tensors reproduces it exactly.
TEST(GgufTest, RewriteIsByteIdentical) {
  for (const char* name : {"models/stories260K.gguf", "models/stories260K-ffpad192-f32.gguf"}) {
    auto file = GgufFile::Open(TestData(name));
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    GgufWriter writer((*file)->alignment());
    writer.SetMetadata((*file)->metadata());
    for (const GgufTensorInfo& t : (*file)->tensors()) {
      writer.AddTensor(t.name, t.type, t.shape, (*file)->TensorData(t), t.size_bytes);
    }
    TempDir dir;
    ASSERT_TRUE(writer.WriteTo(dir / "out.gguf").ok());
    EXPECT_EQ(ReadFile(dir / "out.gguf"), ReadFile(TestData(name))) << name;
  }
}

TEST(GgufTest, WritesEveryMetadataTypeAndAlignment) {
  GgufWriter writer(64);
  writer.AddMetadata("u8", {GgufValueType::kUint8, uint64_t{200}});
  writer.AddMetadata("i8", {GgufValueType::kInt8, int64_t{-5}});
  writer.AddMetadata("u16", {GgufValueType::kUint16, uint64_t{65000}});
  writer.AddMetadata("i16", {GgufValueType::kInt16, int64_t{-30000}});
  writer.AddMetadata("u32", GgufValue::U32(4000000000u));
  writer.AddMetadata("i32", GgufValue::I32(-7));
  writer.AddMetadata("f32", GgufValue::F32(0.25f));
  writer.AddMetadata("b", GgufValue::Bool(true));
  writer.AddMetadata("s", GgufValue::Str("héllo"));
  writer.AddMetadata("u64", {GgufValueType::kUint64, uint64_t{1} << 40});
  writer.AddMetadata("i64", {GgufValueType::kInt64, int64_t{-1} << 40});
  writer.AddMetadata("f64", {GgufValueType::kFloat64, 1.0 / 3});
  writer.AddMetadata("arr", GgufValue::I32Array({1, -2, 3}));
  writer.AddMetadata("strs", GgufValue::StrArray({"a", "", "ccc"}));
  const std::vector<float> data(32 * 3, 1.5f);
  writer.AddTensor("a", TensorType::kF32, {32, 3}, data.data(), data.size() * 4);
  writer.AddTensor("b", TensorType::kF32, {8}, data.data(), 32);
  TempDir dir;
  ASSERT_TRUE(writer.WriteTo(dir / "t.gguf").ok());
  auto file = GgufFile::Open(dir / "t.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const GgufFile& f = **file;
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.GetInt("u8"), 200);
  EXPECT_EQ(f.GetInt("i8"), -5);
  EXPECT_EQ(f.GetInt("u16"), 65000);
  EXPECT_EQ(f.GetInt("i16"), -30000);
  EXPECT_EQ(f.GetInt("u32"), 4000000000);
  EXPECT_EQ(f.GetInt("i32"), -7);
  EXPECT_EQ(f.GetFloat("f32"), 0.25);
  EXPECT_EQ(f.GetInt("b"), 1);
  EXPECT_EQ(f.GetString("s"), "héllo");
  EXPECT_EQ(f.GetInt("u64"), int64_t{1} << 40);
  EXPECT_EQ(f.GetInt("i64"), int64_t{-1} << 40);
  EXPECT_EQ(f.GetFloat("f64"), 1.0 / 3);
  EXPECT_EQ(f.Find("arr")->AsArray()->values[1].AsInt(), -2);
  EXPECT_EQ(f.Find("strs")->AsArray()->values[2].AsString(), "ccc");
  EXPECT_EQ(f.Find("u16")->type, GgufValueType::kUint16);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensors()[1].offset, 384u);  // 384 bytes of "a", already 64-aligned
  float back[8];
  std::memcpy(back, f.TensorData(f.tensors()[1]), sizeof(back));
  EXPECT_EQ(back[7], 1.5f);
}

TEST(GgufTest, WriterRejectsDataThatDoesNotMatchShape) {
  GgufWriter writer;
  const std::vector<float> data(10);
  writer.AddTensor("x", TensorType::kF32, {32}, data.data(), 40);
  TempDir dir;
  const Status s = writer.WriteTo(dir / "bad.gguf");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.gguf"));
}

TEST(GgufTest, MissingFileIsIoError) {
  TempDir dir;
  auto file = GgufFile::Open(dir / "nope.gguf");
  EXPECT_EQ(file.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace edgefarm::engine
