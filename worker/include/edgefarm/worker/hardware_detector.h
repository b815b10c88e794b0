// Hardware and toolchain tags of the machine a worker runs on.
//
// The tags are what the scheduler matches a job's required tags against (DESIGN.md "Frameworks
// and targets"): `arch`, `os`, `cpu.vendor`, `cpu.cores`, `memory.bytes`, ISA flags as
// `isa.<flag>=true`, `gpu.*` from nvidia-smi and `toolchain.*` for framework tools found on PATH.
// Every source (/proc files, PATH, uname) is a parameter so tests can feed sample files.
//
// Failure: detection never fails as a whole; a source that cannot be read simply contributes no
// tags. Thread-safety: free functions without shared state.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::worker {

using Tags = std::map<std::string, std::string>;

struct HardwareSources {
  std::filesystem::path cpuinfo = "/proc/cpuinfo";
  std::filesystem::path meminfo = "/proc/meminfo";
  // Directories searched for tools, ':'-separated like $PATH. Unset: the process's $PATH.
  std::optional<std::string> path_env;
  // uname(2) machine and sysname. Unset: the running kernel's.
  std::optional<std::string> machine;
  std::optional<std::string> sysname;
  // Whether to run nvidia-smi when it is found on the search path.
  bool query_gpus = true;
};

// Detects tags from the given sources.
Tags DetectHardware(const HardwareSources& sources = HardwareSources());

// Parses the CPU part of /proc/cpuinfo text (x86 "vendor_id"/"flags" or ARM
// "CPU implementer"/"Features") into cpu.vendor, cpu.cores, cpu.model and isa.* tags.
Tags ParseCpuInfo(std::string_view cpuinfo_text);

// Parses nvidia-smi `--query-gpu=name,memory.total --format=csv,noheader` output into
// gpu.vendor, gpu.count, gpu.model and gpu.memory (first GPU's figure as printed).
Tags ParseNvidiaSmi(std::string_view csv);

// The built-in target a machine with these tags is: intel-x86, amd-x86, arm64 or apple-silicon;
// empty when none fits (e.g. an unknown x86 vendor).
std::string NativeTarget(const Tags& tags);

// Parses `--label k=v` values. Keys must be non-empty and must not contain '=' or whitespace.
Result<Tags> ParseLabels(const std::vector<std::string>& labels);

// The first executable file called `name` in the ':'-separated directory list.
std::optional<std::filesystem::path> FindOnPath(std::string_view name, std::string_view path_env);

}  // namespace edgefarm::worker
