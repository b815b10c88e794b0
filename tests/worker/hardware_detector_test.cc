#include "edgefarm/worker/hardware_detector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test_support.h"

namespace edgefarm::worker {
namespace {

namespace fs = std::filesystem;
using edgefarm::testing::TempDir;
using edgefarm::testing::WriteFile;

HardwareSources Sample(const std::string& cpuinfo, const std::string& machine,
                       const std::string& path_env = "") {
  HardwareSources s;
  s.cpuinfo = fs::path(WORKER_TEST_DATA) / cpuinfo;
  s.meminfo = fs::path(WORKER_TEST_DATA) / "meminfo.txt";
  s.machine = machine;
  s.sysname = "Linux";
  s.path_env = path_env;
  return s;
}

void WriteExecutable(const fs::path& path, const std::string& text) {
  WriteFile(path, text);
  ::chmod(path.c_str(), 0755);
}

TEST(HardwareDetectorTest, IntelSampleGivesVendorIsaCoresMemoryAndTarget) {
  const Tags tags = DetectHardware(Sample("cpuinfo_intel.txt", "x86_64"));
  EXPECT_EQ(tags.at("arch"), "x86_64");
  EXPECT_EQ(tags.at("os"), "linux");
  EXPECT_EQ(tags.at("cpu.vendor"), "intel");
  EXPECT_EQ(tags.at("cpu.cores"), "2");
  EXPECT_EQ(tags.at("cpu.model"), "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_EQ(tags.at("memory.bytes"), std::to_string(16318460ULL * 1024));
  EXPECT_EQ(tags.at("isa.avx2"), "true");
  EXPECT_EQ(tags.at("isa.avx512f"), "true");
  EXPECT_EQ(tags.at("isa.avx512_vnni"), "true");
  EXPECT_EQ(tags.at("isa.amx"), "true");
  EXPECT_FALSE(tags.count("isa.neon"));
  EXPECT_FALSE(tags.count("gpu.vendor"));
  EXPECT_EQ(NativeTarget(tags), "intel-x86");
}

TEST(HardwareDetectorTest, AmdSampleHasAvx2ButNoAvx512) {
  const Tags tags = DetectHardware(Sample("cpuinfo_amd.txt", "x86_64"));
  EXPECT_EQ(tags.at("cpu.vendor"), "amd");
  EXPECT_EQ(tags.at("cpu.cores"), "3");
  EXPECT_EQ(tags.at("isa.avx2"), "true");
  EXPECT_FALSE(tags.count("isa.avx512f"));
  EXPECT_FALSE(tags.count("isa.amx"));
  EXPECT_EQ(NativeTarget(tags), "amd-x86");
}

TEST(HardwareDetectorTest, ArmSampleHasNeonAsimdSve) {
  const Tags tags = DetectHardware(Sample("cpuinfo_arm.txt", "aarch64"));
  EXPECT_EQ(tags.at("arch"), "aarch64");
  EXPECT_EQ(tags.at("cpu.vendor"), "arm");
  EXPECT_EQ(tags.at("cpu.cores"), "2");
  EXPECT_EQ(tags.at("isa.asimd"), "true");
  EXPECT_EQ(tags.at("isa.neon"), "true");
  EXPECT_EQ(tags.at("isa.sve"), "true");
  EXPECT_FALSE(tags.count("isa.avx2"));
  EXPECT_EQ(NativeTarget(tags), "arm64");
}

TEST(HardwareDetectorTest, TargetMappingCoversAppleAndUnknown) {
  EXPECT_EQ(NativeTarget({{"os", "darwin"}, {"arch", "arm64"}}), "apple-silicon");
  EXPECT_EQ(NativeTarget({{"os", "linux"}, {"arch", "arm64"}}), "arm64");
  EXPECT_EQ(NativeTarget({{"arch", "x86_64"}, {"cpu.vendor", "centaurhauls"}}), "");
  EXPECT_EQ(NativeTarget({{"arch", "riscv64"}}), "");
}

TEST(HardwareDetectorTest, MissingSourcesContributeNothing) {
  HardwareSources s;
  s.cpuinfo = "/nonexistent/cpuinfo";
  s.meminfo = "/nonexistent/meminfo";
  s.machine = "x86_64";
  s.sysname = "Linux";
  s.path_env = "";
  const Tags tags = DetectHardware(s);
  EXPECT_EQ(tags.at("arch"), "x86_64");
  EXPECT_FALSE(tags.count("cpu.vendor"));
  EXPECT_FALSE(tags.count("memory.bytes"));
  EXPECT_TRUE(tags.count("cpu.cores"));  // falls back to sysconf
}

TEST(HardwareDetectorTest, ToolchainsAndGpusFoundOnSearchPath) {
  TempDir bin;
  WriteExecutable(bin / "llama-quantize", "#!/bin/sh\nexit 0\n");
  WriteExecutable(bin / "benchmark_app", "#!/bin/sh\nexit 0\n");
  // Sample nvidia-smi output for two GPUs, as the real tool prints it.
  WriteExecutable(bin / "nvidia-smi",
                  "#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 81559 MiB'\n"
                  "echo 'NVIDIA H100 80GB HBM3, 81559 MiB'\n");
  WriteFile(bin / "olive", "not executable");
  const Tags tags =
      DetectHardware(Sample("cpuinfo_intel.txt", "x86_64", "/nonexistent:" + bin.path().string()));
  EXPECT_EQ(tags.at("toolchain.llama_cpp"), "true");
  EXPECT_EQ(tags.at("toolchain.openvino"), "true");
  EXPECT_FALSE(tags.count("toolchain.olive"));
  EXPECT_EQ(tags.at("gpu.vendor"), "nvidia");
  EXPECT_EQ(tags.at("gpu.count"), "2");
  EXPECT_EQ(tags.at("gpu.model"), "NVIDIA H100 80GB HBM3");
}

TEST(HardwareDetectorTest, NvidiaSmiFailureOutputGivesNoGpuTags) {
  EXPECT_TRUE(ParseNvidiaSmi("NVIDIA-SMI has failed because it couldn't communicate\n").empty());
  EXPECT_TRUE(ParseNvidiaSmi("").empty());
}

TEST(HardwareDetectorTest, LabelsParseAndRejectMalformed) {
  auto labels = ParseLabels({"site=lab-2", "pool=fast", "empty="});
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_EQ(labels->at("site"), "lab-2");
  EXPECT_EQ(labels->at("empty"), "");
  EXPECT_FALSE(ParseLabels({"novalue"}).ok());
  EXPECT_FALSE(ParseLabels({"=x"}).ok());
  EXPECT_FALSE(ParseLabels({"a b=c"}).ok());
}

TEST(HardwareDetectorTest, RealMachineHasArchAndCores) {
  const Tags tags = DetectHardware();
  EXPECT_TRUE(tags.count("arch"));
  EXPECT_TRUE(tags.count("cpu.cores"));
  EXPECT_TRUE(tags.count("memory.bytes"));
}

}  // namespace
}  // namespace edgefarm::worker
