// Hostile GGUF input: truncations, absurd counts and lengths, bad type ids, shapes, offsets and
// alignment must each give a clear error Status -- never a crash, a huge allocation or a read
// outside the file (this suite also runs under ASan in the fuzz build).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/tokenizer.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;
using edgefarm::testing::WriteFile;

class GgufCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override { original_ = ReadFile(TestData("models/stories260K.gguf")); }

  // Offset just past the name of the 2-D tensor record `name` (where n_dims is stored).
  size_t TensorRecordFields(const std::string& name) const {
    const size_t at = original_.find(name + std::string("\x02\x00\x00\x00", 4));
    EXPECT_NE(at, std::string::npos) << name;
    return at + name.size();
  }

  template <typename T>
  static void Put(std::string* s, size_t offset, T value) {
    std::memcpy(s->data() + offset, &value, sizeof(T));
  }

  Result<std::unique_ptr<GgufFile>> Parse(const std::string& bytes) const {
    return GgufFile::FromMemory(bytes.data(), bytes.size());
  }

  std::string original_;
};

TEST_F(GgufCorruptionTest, OriginalParsesFromMemoryAndFromDisk) {
  auto mem = Parse(original_);
  ASSERT_TRUE(mem.ok()) << mem.status().ToString();
  EXPECT_EQ((*mem)->tensors().size(), 48u);
}

TEST_F(GgufCorruptionTest, TruncationAtEveryTwentiethIsDataLoss) {
  TempDir dir;
  for (int k = 0; k < 20; ++k) {
    const std::string cut = original_.substr(0, original_.size() * k / 20);
    WriteFile(dir / "cut.gguf", cut);
    auto file = GgufFile::Open(dir / "cut.gguf");
    ASSERT_FALSE(file.ok()) << "cut at " << k << "/20";
    EXPECT_EQ(file.status().code(), StatusCode::kDataLoss) << file.status().ToString();
  }
}

TEST_F(GgufCorruptionTest, TruncationAnywhereInTheHeaderIsAnError) {
  auto full = Parse(original_);
  ASSERT_TRUE(full.ok());
  const size_t header = (*full)->data_offset();
  for (size_t n = 0; n < header; n += 7) {
    auto file = Parse(original_.substr(0, n));
    ASSERT_FALSE(file.ok()) << "cut at byte " << n;
  }
}

struct Corruption {
  std::string what;
  std::function<void(std::string*, size_t embd_record)> apply;
  std::string message_part;
};

TEST_F(GgufCorruptionTest, TableOfCorruptions) {
  const std::vector<Corruption> table = {
      {"bad magic", [](std::string* s, size_t) { (*s)[0] = 'X'; }, "bad magic"},
      {"version 1", [](std::string* s, size_t) { Put<uint32_t>(s, 4, 1); }, "version 1"},
      {"version 99", [](std::string* s, size_t) { Put<uint32_t>(s, 4, 99); }, "version 99"},
      {"tensor count 2^62", [](std::string* s, size_t) { Put<uint64_t>(s, 8, 1ull << 62); },
       "tensor count"},
      {"tensor count +1", [](std::string* s, size_t) { Put<uint64_t>(s, 8, 49); }, ""},
      {"kv count max", [](std::string* s, size_t) { Put<uint64_t>(s, 16, ~0ull); },
       "metadata count"},
      {"kv count +1", [](std::string* s, size_t) { Put<uint64_t>(s, 16, 20); }, ""},
      {"key length huge", [](std::string* s, size_t) { Put<uint64_t>(s, 24, 1ull << 60); },
       "string length"},
      {"value type 13", [](std::string* s, size_t) { Put<uint32_t>(s, 24 + 8 + 21, 13); },
       "unknown value type"},
      {"array of arrays", [](std::string* s, size_t) { Put<uint32_t>(s, 24 + 8 + 21 + 4, 9); },
       "nested arrays"},
      {"array count huge",
       [](std::string* s, size_t) { Put<uint64_t>(s, 24 + 8 + 21 + 8, 1ull << 40); }, "array of"},
      {"n_dims 0", [](std::string* s, size_t r) { Put<uint32_t>(s, r, 0); }, "dimensions"},
      {"n_dims 7", [](std::string* s, size_t r) { Put<uint32_t>(s, r, 7); }, "dimensions"},
      {"negative extent", [](std::string* s, size_t r) { Put<int64_t>(s, r + 4, -64); }, "shape"},
      {"overflowing shape",
       [](std::string* s, size_t r) {
         Put<int64_t>(s, r + 4, 1ll << 40);
         Put<int64_t>(s, r + 12, 1ll << 40);
       },
       "overflow"},
      {"huge shape", [](std::string* s, size_t r) { Put<int64_t>(s, r + 12, 1ll << 40); },
       "outside"},
      {"type id 999", [](std::string* s, size_t r) { Put<uint32_t>(s, r + 20, 999); },
       "unknown type id 999"},
      {"type id 4 (removed)", [](std::string* s, size_t r) { Put<uint32_t>(s, r + 20, 4); },
       "unknown type id"},
      {"row not divisible", [](std::string* s, size_t r) { Put<uint32_t>(s, r + 20, 12); },
       "not a multiple"},
      {"misaligned offset", [](std::string* s, size_t r) { Put<uint64_t>(s, r + 24, 131072 + 4); },
       "not aligned"},
      {"offset past end", [](std::string* s, size_t r) { Put<uint64_t>(s, r + 24, 1ull << 40); },
       "outside"},
      {"overlapping tensors",
       [](std::string* s, size_t r) { Put<uint64_t>(s, r + 24, 131072 + 32); }, "overlap"},
      {"name length huge", [](std::string* s, size_t r) { Put<uint64_t>(s, r - 13 - 8, ~0ull); },
       "string length"},
  };
  // The record edited is output.weight's: shape [64, 512], f32, data offset 131328, right after
  // token_embd.weight [0, 131072) and output_norm.weight [131072, 131328).
  const size_t record = TensorRecordFields("output.weight");
  for (const Corruption& c : table) {
    std::string bytes = original_;
    c.apply(&bytes, record);
    auto file = Parse(bytes);
    ASSERT_FALSE(file.ok()) << c.what;
    EXPECT_EQ(file.status().code(), StatusCode::kDataLoss) << c.what;
    EXPECT_NE(file.status().message().find(c.message_part), std::string::npos)
        << c.what << ": " << file.status().ToString();
  }
}

TEST_F(GgufCorruptionTest, BadAlignmentValue) {
  GgufWriter w;
  w.AddMetadata("general.alignment", GgufValue::U32(32));
  TempDir dir;
  ASSERT_TRUE(w.WriteTo(dir / "a.gguf").ok());
  std::string bytes = ReadFile(dir / "a.gguf");
  const size_t key = bytes.find("general.alignment");
  ASSERT_NE(key, std::string::npos);
  Put<uint32_t>(&bytes, key + 17 + 4, 3);
  auto file = Parse(bytes);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("power of two"), std::string::npos);
  Put<uint32_t>(&bytes, key + 17, 5);  // declared int32 instead of uint32
  Put<uint32_t>(&bytes, key + 17 + 4, 32);
  EXPECT_FALSE(Parse(bytes).ok());
}

// Random single-byte damage to the header: any outcome but a crash is acceptable, and whatever
// parses must be internally consistent enough for the tokenizer to load or refuse.
TEST_F(GgufCorruptionTest, RandomHeaderDamageNeverCrashes) {
  auto full = Parse(original_);
  ASSERT_TRUE(full.ok());
  const size_t header = (*full)->data_offset();
  std::mt19937 rng(1234);
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = original_;
    for (int k = 0; k < 1 + i % 4; ++k) {
      bytes[rng() % header] = static_cast<char>(rng() & 0xFF);
    }
    auto file = Parse(bytes);
    if (!file.ok()) continue;
    ++parsed;
    for (const GgufTensorInfo& t : (*file)->tensors()) {
      if (t.size_bytes > 0) {
        volatile uint8_t last = (*file)->TensorData(t)[t.size_bytes - 1];
        (void)last;
      }
    }
    auto tok = Tokenizer::FromGguf(**file);
    if (tok.ok()) (void)(*tok)->Encode("hello world", true);
  }
  EXPECT_GT(parsed, 0);  // damage to string bytes leaves the file valid
}

TEST_F(GgufCorruptionTest, EmptyFileAndDirectory) {
  TempDir dir;
  WriteFile(dir / "empty.gguf", "");
  auto empty = GgufFile::Open(dir / "empty.gguf");
  EXPECT_EQ(empty.status().code(), StatusCode::kDataLoss);
  auto directory = GgufFile::Open(dir.path());
  EXPECT_EQ(directory.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace edgefarm::engine
