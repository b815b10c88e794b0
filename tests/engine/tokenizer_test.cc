// The SPM tokenizer against ids llama.cpp produced for stories260K.gguf.
#include "edgefarm/engine/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "edgefarm/engine/gguf.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::TestData;

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto file = GgufFile::Open(TestData("models/stories260K.gguf"));
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    file_ = std::move(file).value();
    auto tok = Tokenizer::FromGguf(*file_);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = std::move(tok).value();
  }
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(TokenizerTest, MatchesLlamaCppOnEveryFixtureLine) {
  std::ifstream in(TestData("tokenizer/stories260K.tsv"));
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.rfind('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    const std::string text = line.substr(0, tab);
    std::vector<int32_t> expected;
    std::istringstream ids(line.substr(tab + 1));
    for (std::string id; std::getline(ids, id, ',');) expected.push_back(std::stoi(id));
    EXPECT_EQ(tok_->Encode(text, true), expected) << "text: " << text;
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

TEST_F(TokenizerTest, SpecialIdsAndBos) {
  EXPECT_EQ(tok_->bos(), 1);
  EXPECT_EQ(tok_->eos(), 2);
  EXPECT_EQ(tok_->vocab_size(), 512);
  EXPECT_EQ(tok_->Encode("", true), std::vector<int32_t>{1});
  EXPECT_TRUE(tok_->Encode("", false).empty());
  const std::vector<int32_t> with = tok_->Encode("Hello", true);
  const std::vector<int32_t> without = tok_->Encode("Hello", false);
  ASSERT_EQ(with.size(), without.size() + 1);
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin() + 1));
}

TEST_F(TokenizerTest, DecodeInvertsEncode) {
  for (const std::string text : {"Once upon a time, there was a little girl named Lily.",
                                 "Zürich – naïve café ✓ 日本語", "  two  spaces\nnewline"}) {
    EXPECT_EQ(tok_->Decode(tok_->Encode(text, true)), text);
  }
}

TEST_F(TokenizerTest, UnknownCharactersFallBackToBytes) {
  // U+65E5 (three UTF-8 bytes) is not in the 512-token vocabulary: three byte tokens.
  const std::vector<int32_t> ids = tok_->Encode("\xE6\x97\xA5", false);
  ASSERT_GE(ids.size(), 3u);
  const std::vector<int32_t> tail(ids.end() - 3, ids.end());
  EXPECT_EQ(tok_->TokenToPiece(tail[0]), "\xE6");
  EXPECT_EQ(tok_->TokenToPiece(tail[1]), "\x97");
  EXPECT_EQ(tok_->TokenToPiece(tail[2]), "\xA5");
}

TEST(TokenizerFromGgufTest, RejectsNonLlamaVocab) {
  GgufWriter w;
  w.AddMetadata("tokenizer.ggml.model", GgufValue::Str("gpt2"));
  edgefarm::testing::TempDir dir;
  ASSERT_TRUE(w.WriteTo(dir / "v.gguf").ok());
  auto file = GgufFile::Open(dir / "v.gguf");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(Tokenizer::FromGguf(**file).status().code(), StatusCode::kInvalidArgument);
}

TEST(TokenizerFromGgufTest, RejectsOutOfRangeSpecialIds) {
  GgufWriter w;
  w.AddMetadata("tokenizer.ggml.model", GgufValue::Str("llama"));
  w.AddMetadata("tokenizer.ggml.tokens", GgufValue::StrArray({"<unk>", "<s>", "</s>"}));
  w.AddMetadata("tokenizer.ggml.bos_token_id", GgufValue::U32(7));
  edgefarm::testing::TempDir dir;
  ASSERT_TRUE(w.WriteTo(dir / "v.gguf").ok());
  auto file = GgufFile::Open(dir / "v.gguf");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(Tokenizer::FromGguf(**file).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace edgefarm::engine
