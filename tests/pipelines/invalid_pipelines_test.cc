// The corpus of invalid pipelines: tests/data/pipelines/invalid/NAME.yml must be rejected with
// exactly the message in NAME.expected (every error, one per line, "FILE:LINE:COL: message").
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "edgefarm/pipelines/expand.h"
#include "edgefarm/pipelines/pipeline_loader.h"
#include "test_support.h"

namespace edgefarm::pipelines {
namespace {

std::string TrimTrailingNewlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::vector<std::filesystem::path> CorpusFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::TestData("pipelines/invalid"))) {
    if (entry.path().extension() == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(InvalidPipelinesTest, CorpusHasTheRequiredCases) {
  EXPECT_GE(CorpusFiles().size(), 15u);
}

TEST(InvalidPipelinesTest, EachIsRejectedWithItsExpectedMessage) {
  for (const auto& yml : CorpusFiles()) {
    SCOPED_TRACE(yml.filename().string());
    auto expected_path = yml;
    expected_path.replace_extension(".expected");
    ASSERT_TRUE(std::filesystem::exists(expected_path)) << "missing " << expected_path;
    Result<Pipeline> loaded = LoadPipeline(testing::ReadFile(yml), yml.filename().string());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(loaded.status().message(), TrimTrailingNewlines(testing::ReadFile(expected_path)));
  }
}

TEST(InvalidPipelinesTest, ReportsEveryErrorOnItsOwnLine) {
  Result<Pipeline> loaded = LoadPipeline(R"(name: many
matirx: {}
benchmark: {threads: many}
steps:
  - {name: a, run: "make"}
)",
                                         "m.yml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            "m.yml:2:1: unknown key 'matirx' in pipeline (did you mean 'matrix'?)\n"
            "m.yml:3:22: expected an integer for 'benchmark.threads', got 'many'\n"
            "m.yml:5:20: 'steps[0].run' must be a list of arguments, not a string (no shell is "
            "involved): write run: [make, test], or run: [sh, -c, \"make\"] to use a shell");
}

// Damaged documents (bytes deleted, duplicated or replaced, seeded so failures reproduce) must
// give a located error or a pipeline that expands; never a crash or an escaping exception.
TEST(InvalidPipelinesTest, DamagedDocumentsNeverEscapeAsExceptions) {
  const std::string original =
      testing::ReadFile(testing::SourceDir() / "examples" / "stories" / ".edgefarm.yml");
  ASSERT_TRUE(LoadPipeline(original, "damaged.yml").ok());
  std::mt19937 rng(20261121);
  const std::string noise = ":-[]{},#&*!|>'\"%@`\t\n \xff\x80";
  int loaded = 0;
  for (int round = 0; round < 1000; ++round) {
    std::string text = original;
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text.erase(at, 1 + rng() % 8);
          break;
        case 1:
          text.insert(at, text.substr(rng() % text.size(), 1 + rng() % 16));
          break;
        default:
          text[at] = noise[rng() % noise.size()];
          break;
      }
    }
    Result<Pipeline> result = LoadPipeline(text, "damaged.yml");
    if (!result.ok()) {
      EXPECT_EQ(result.status().message().rfind("damaged.yml:", 0), 0u)
          << result.status().message();
      continue;
    }
    ++loaded;
    Result<std::vector<JobTemplate>> jobs = ExpandPipeline(*result, ExpandOptions{"arm64", 1024});
    if (!jobs.ok()) {
      EXPECT_EQ(jobs.status().message().rfind("damaged.yml:", 0), 0u);
    }
  }
  EXPECT_GT(loaded, 0);  // some damage is harmless (inside comments), so both paths run
}

}  // namespace
}  // namespace edgefarm::pipelines
