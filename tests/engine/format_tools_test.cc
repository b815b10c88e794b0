// The format commands of the real edgefarm-engine binary, run as child processes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "edgefarm/engine/gguf.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::BinaryDir;
using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;

struct ToolRun {
  int exit_code;
  std::string output;  // stdout and stderr
};

class FormatToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = BinaryDir() / "engine" / "edgefarm-engine";
    if (!std::filesystem::exists(binary_)) GTEST_SKIP() << "not built: " << binary_;
  }

  ToolRun Exec(const std::string& args) const {
    const std::string cmd = Quote(binary_) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ToolRun r{-1, ""};
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  static std::string Quote(const std::filesystem::path& p) {
    std::string quoted = "'";
    quoted += p.string();
    return quoted + "'";
  }

  std::filesystem::path binary_;
};

TEST_F(FormatToolsTest, TokenizePrintsLlamaCppIds) {
  const ToolRun r = Exec("tokenize " + Quote(TestData("models/stories260K.gguf")) +
                         " 'Once upon a time, there was a little girl named Lily.'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426\n");
}

TEST_F(FormatToolsTest, QuantizeReportsTypesFallbacksAndSummary) {
  TempDir dir;
  const ToolRun r = Exec("quantize " + Quote(TestData("models/stories260K.gguf")) + " " +
                         Quote(dir / "q.gguf") + " --scheme q4_k_m --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("blk.0.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.output.find("fallback: row length 172"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tensors: 48"), std::string::npos);
  auto file = GgufFile::Open(dir / "q.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->GetInt("general.file_type"), 15);
}

TEST_F(FormatToolsTest, QuantizeFailsClearly) {
  TempDir dir;
  ToolRun r = Exec("quantize " + Quote(dir / "missing.gguf") + " " + Quote(dir / "q.gguf") +
                   " --scheme q4_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot open"), std::string::npos) << r.output;
  r = Exec("quantize " + Quote(TestData("models/stories260K.gguf")) + " " + Quote(dir / "q.gguf") +
           " --scheme q9_9");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unknown quantisation scheme 'q9_9'"), std::string::npos) << r.output;
  r = Exec("quantize only-one-arg");
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(FormatToolsTest, MakeModelThenInfo) {
  TempDir dir;
  ToolRun r = Exec("make-model " + Quote(dir / "m.gguf") +
                   " --dim 64 --layers 2 --ff 128 --heads 4 --kv-heads 2 --vocab 300 --seed 9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Exec("info " + Quote(dir / "m.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("llama.block_count"), std::string::npos);
  EXPECT_NE(r.output.find("blk.1.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.output.find("tensors (21)"), std::string::npos) << r.output;
  r = Exec("make-model " + Quote(dir / "bad.gguf") + " --dim 63 --heads 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("multiple of heads"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace edgefarm::engine
