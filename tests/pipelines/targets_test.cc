// Targets and tags: the built-in table, tag matching, the decision table, native detection and
// push-trigger globs.
#include "edgefarm/pipelines/targets.h"

#include <gtest/gtest.h>

#include "edgefarm/pipelines/expand.h"
#include "edgefarm/pipelines/pipeline_loader.h"
#include "edgefarm/pipelines/trigger_filter.h"

namespace edgefarm::pipelines {
namespace {

TEST(TargetsTest, BuiltinTargetsCarryTheDesignTags) {
  const auto& targets = BuiltinTargets();
  EXPECT_EQ(targets.size(), 5u);
  EXPECT_EQ(targets.at("intel-x86"), (Tags{{"arch", "x86_64"}, {"cpu.vendor", "intel"}}));
  EXPECT_EQ(targets.at("amd-x86"), (Tags{{"arch", "x86_64"}, {"cpu.vendor", "amd"}}));
  EXPECT_EQ(targets.at("arm64"), (Tags{{"arch", "aarch64"}}));
  EXPECT_EQ(targets.at("nvidia-cuda"), (Tags{{"gpu.vendor", "nvidia"}}));
  EXPECT_EQ(targets.at("apple-silicon"), (Tags{{"os", "darwin"}, {"arch", "arm64"}}));
}

TEST(TargetsTest, MissingTagsListsWhatAWorkerLacks) {
  const Tags worker = {{"arch", "x86_64"}, {"cpu.vendor", "amd"}, {"avx2", "true"}};
  EXPECT_TRUE(MissingTags(BuiltinTargets().at("amd-x86"), worker).empty());
  EXPECT_EQ(MissingTags(BuiltinTargets().at("intel-x86"), worker),
            (std::vector<std::string>{"cpu.vendor=intel"}));
  EXPECT_EQ(MissingTags({{"gpu.vendor", "nvidia"}, {"arch", "aarch64"}}, worker),
            (std::vector<std::string>{"arch=aarch64", "gpu.vendor=nvidia"}));
  EXPECT_TRUE(MissingTags({}, {}).empty());
  // Values must be equal, not merely present.
  EXPECT_EQ(MissingTags({{"avx2", "false"}}, worker), (std::vector<std::string>{"avx2=false"}));
}

TEST(TargetsTest, CustomTargetsOverrideBuiltins) {
  Result<Pipeline> p = LoadPipeline(R"(name: c
targets:
  intel-x86: {arch: x86_64, cpu.vendor: intel, avx512f: true}
  orin: {gpu.vendor: nvidia, arch: aarch64}
)",
                                    "c.yml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  Tags tags;
  ASSERT_TRUE(LookupTarget(*p, "intel-x86", &tags));
  EXPECT_EQ(tags.at("avx512f"), "true");
  ASSERT_TRUE(LookupTarget(*p, "orin", &tags));
  EXPECT_EQ(tags.size(), 2u);
  ASSERT_TRUE(LookupTarget(*p, "arm64", &tags));
  EXPECT_FALSE(LookupTarget(*p, "sparc", &tags));
}

TEST(TargetsTest, TargetForTagsFindsTheNativeTarget) {
  EXPECT_EQ(TargetForTags({{"arch", "x86_64"}, {"cpu.vendor", "intel"}, {"cores", "2"}}),
            "intel-x86");
  EXPECT_EQ(TargetForTags({{"arch", "x86_64"}, {"cpu.vendor", "amd"}}), "amd-x86");
  EXPECT_EQ(TargetForTags({{"arch", "aarch64"}}), "arm64");
  EXPECT_EQ(TargetForTags({{"os", "darwin"}, {"arch", "arm64"}}), "apple-silicon");
  EXPECT_EQ(TargetForTags({{"arch", "x86_64"}, {"cpu.vendor", "intel"}, {"gpu.vendor", "nvidia"}}),
            "intel-x86");
  EXPECT_EQ(TargetForTags({{"arch", "riscv64"}}), "");
}

TEST(TargetsTest, DecisionTable) {
  using V = std::vector<std::string>;
  EXPECT_EQ(PreferredFrameworks(BuiltinTargets().at("intel-x86")), (V{"openvino", "olive"}));
  EXPECT_EQ(PreferredFrameworks(BuiltinTargets().at("nvidia-cuda")), (V{"olive", "openvino"}));
  EXPECT_EQ(PreferredFrameworks(BuiltinTargets().at("apple-silicon")), (V{"mlx", "llama_cpp"}));
  EXPECT_EQ(PreferredFrameworks(BuiltinTargets().at("arm64")), (V{"llama_cpp", "openvino"}));
  EXPECT_EQ(PreferredFrameworks(BuiltinTargets().at("amd-x86")), (V{"llama_cpp"}));
  EXPECT_EQ(PreferredFrameworks({{"gpu.vendor", "intel"}}), (V{"openvino", "olive"}));
}

TEST(TargetsTest, KnowsFrameworksAndSchemes) {
  EXPECT_TRUE(IsKnownFramework("olive"));
  EXPECT_FALSE(IsKnownFramework("tensorrt"));
  EXPECT_EQ(SchemesFor("llama_cpp"), (std::vector<std::string>{"q8_0", "q4_0", "q4_k_m"}));
  EXPECT_EQ(SchemesFor("olive").size(), 6u);
  EXPECT_TRUE(SchemesFor("tensorrt").empty());
}

TEST(TriggerFilterTest, GlobMatch) {
  EXPECT_TRUE(GlobMatch("main", "main"));
  EXPECT_FALSE(GlobMatch("main", "main2"));
  EXPECT_TRUE(GlobMatch("release/*", "release/1.2"));
  EXPECT_FALSE(GlobMatch("release/*", "release/1.2/hotfix"));
  EXPECT_TRUE(GlobMatch("release/**", "release/1.2/hotfix"));
  EXPECT_TRUE(GlobMatch("models/**/*.gguf", "models/a/b/m.gguf"));
  EXPECT_TRUE(GlobMatch("models/**/*.gguf", "models/m.gguf"));
  EXPECT_FALSE(GlobMatch("models/**/*.gguf", "data/m.gguf"));
  EXPECT_TRUE(GlobMatch("v?.0", "v1.0"));
  EXPECT_FALSE(GlobMatch("v?.0", "v10.0"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("*.yml", "a/b.yml"));
}

TEST(TriggerFilterTest, PushTriggers) {
  PushTrigger trigger{true, {"main", "release/*"}, {"models/**", ".edgefarm.yml"}};
  EXPECT_TRUE(PushTriggers(trigger, "refs/heads/main", {"models/m.gguf"}));
  EXPECT_TRUE(PushTriggers(trigger, "release/2", {"README.md", ".edgefarm.yml"}));
  EXPECT_FALSE(PushTriggers(trigger, "feature/x", {"models/m.gguf"}));
  EXPECT_FALSE(PushTriggers(trigger, "main", {"README.md"}));
  EXPECT_FALSE(PushTriggers(trigger, "main", {}));
  EXPECT_TRUE(PushTriggers(PushTrigger{}, "anything", {}));
  EXPECT_FALSE(PushTriggers(PushTrigger{false, {}, {}}, "main", {"x"}));
}

}  // namespace
}  // namespace edgefarm::pipelines
