// Hardware detection: /proc parsing, uname, PATH probing and one nvidia-smi query.
//
// Only facts the scheduler can match on become tags. Values are normalised (lowercase vendor
// names, "true" for flags) so that a pipeline's `required_tags` can name them without knowing the
// kernel's spelling. nvidia-smi is run through popen with its absolute path (no shell lookup of
// the name) and its output is parsed defensively: a broken driver yields no gpu tags.
#include "edgefarm/worker/hardware_detector.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace edgefarm::worker {
namespace {

namespace fs = std::filesystem;

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string VendorFromX86(const std::string& vendor_id) {
  if (vendor_id == "GenuineIntel") return "intel";
  if (vendor_id == "AuthenticAMD" || vendor_id == "HygonGenuine") return "amd";
  return Lower(vendor_id);
}

// ISA flags worth scheduling on; the kernel lists hundreds.
void AddIsaTags(const std::set<std::string>& flags, Tags& tags) {
  for (const char* flag :
       {"avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
        "avx_vnni", "sse4_2", "neon", "asimd", "asimddp", "sve", "sve2", "i8mm", "bf16", "fphp"}) {
    if (flags.count(flag)) tags[std::string("isa.") + flag] = "true";
  }
  if (flags.count("amx_tile") || flags.count("amx_int8") || flags.count("amx_bf16")) {
    tags["isa.amx"] = "true";
  }
  // AArch64 always has Advanced SIMD, which is what "neon" means to frameworks.
  if (flags.count("asimd")) tags["isa.neon"] = "true";
}

std::set<std::string> SplitWords(std::string_view text) {
  std::set<std::string> words;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) words.insert(word);
  return words;
}

}  // namespace

Tags ParseCpuInfo(std::string_view cpuinfo_text) {
  Tags tags;
  int processors = 0;
  std::set<std::string> flags;
  bool flags_seen = false;
  std::istringstream in{std::string(cpuinfo_text)};
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trim(std::string_view(line).substr(0, colon));
    const std::string value = Trim(std::string_view(line).substr(colon + 1));
    if (key == "processor") {
      ++processors;
    } else if (key == "vendor_id" && !tags.count("cpu.vendor")) {
      tags["cpu.vendor"] = VendorFromX86(value);
    } else if (key == "CPU implementer" && !tags.count("cpu.vendor")) {
      tags["cpu.vendor"] = "arm";
    } else if ((key == "model name" || key == "Model") && !tags.count("cpu.model")) {
      if (!value.empty()) tags["cpu.model"] = value;
    } else if ((key == "flags" || key == "Features") && !flags_seen) {
      flags = SplitWords(value);
      flags_seen = true;
    }
  }
  if (processors > 0) tags["cpu.cores"] = std::to_string(processors);
  AddIsaTags(flags, tags);
  return tags;
}

Tags ParseNvidiaSmi(std::string_view csv) {
  Tags tags;
  int count = 0;
  std::istringstream in{std::string(csv)};
  std::string line;
  while (std::getline(in, line)) {
    const std::string trimmed = Trim(line);
    if (trimmed.empty()) continue;
    const size_t comma = trimmed.find(',');
    const std::string name = Trim(trimmed.substr(0, comma));
    // nvidia-smi prints errors ("NVIDIA-SMI has failed ...") on stdout too; a GPU row has a comma.
    if (comma == std::string::npos || name.empty()) continue;
    if (count == 0) {
      tags["gpu.model"] = name;
      tags["gpu.memory"] = Trim(trimmed.substr(comma + 1));
    }
    ++count;
  }
  if (count > 0) {
    tags["gpu.vendor"] = "nvidia";
    tags["gpu.count"] = std::to_string(count);
  }
  return tags;
}

std::optional<fs::path> FindOnPath(std::string_view name, std::string_view path_env) {
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string_view::npos) end = path_env.size();
    const std::string dir(path_env.substr(start, end - start));
    if (!dir.empty()) {
      const fs::path candidate = fs::path(dir) / name;
      std::error_code ec;
      if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
    }
    start = end + 1;
  }
  return std::nullopt;
}

namespace {

std::string RunAndRead(const fs::path& exe, const std::string& args) {
  // The path comes from our own PATH scan; quote it so spaces in directory names survive.
  std::string command;
  command.append("'").append(exe.string()).append("' ").append(args).append(" 2>/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  ::pclose(pipe);
  return out;
}

void AddToolchainTags(std::string_view path_env, Tags& tags) {
  auto has = [&](std::string_view tool) { return FindOnPath(tool, path_env).has_value(); };
  if (has("llama-quantize")) tags["toolchain.llama_cpp"] = "true";
  if (has("ovc") || has("benchmark_app")) tags["toolchain.openvino"] = "true";
  if (has("olive")) tags["toolchain.olive"] = "true";
  if (has("mlx_lm.convert") || has("mlx_lm.generate")) tags["toolchain.mlx"] = "true";
}

void AddMemoryTag(const fs::path& meminfo, Tags& tags) {
  const auto text = ReadText(meminfo);
  if (!text) return;
  std::istringstream in(*text);
  std::string key;
  unsigned long long kib = 0;
  while (in >> key) {
    if (key == "MemTotal:" && (in >> kib)) {
      tags["memory.bytes"] = std::to_string(kib * 1024ULL);
      return;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
}

}  // namespace

Tags DetectHardware(const HardwareSources& sources) {
  Tags tags;
  struct utsname uts {};
  const bool have_uname = ::uname(&uts) == 0;
  const std::string machine = sources.machine.value_or(have_uname ? uts.machine : "");
  const std::string sysname = Lower(sources.sysname.value_or(have_uname ? uts.sysname : ""));
  if (!machine.empty()) tags["arch"] = machine;
  if (!sysname.empty()) tags["os"] = sysname;
  if (const auto cpuinfo = ReadText(sources.cpuinfo)) {
    for (auto& [k, v] : ParseCpuInfo(*cpuinfo)) tags[k] = v;
  }
  if (!tags.count("cpu.cores")) {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0) tags["cpu.cores"] = std::to_string(n);
  }
  AddMemoryTag(sources.meminfo, tags);
  const char* env_path = std::getenv("PATH");
  const std::string path_env = sources.path_env.value_or(env_path ? env_path : "");
  AddToolchainTags(path_env, tags);
  if (sources.query_gpus) {
    if (const auto smi = FindOnPath("nvidia-smi", path_env)) {
      for (auto& [k, v] : ParseNvidiaSmi(
               RunAndRead(*smi, "--query-gpu=name,memory.total --format=csv,noheader"))) {
        tags[k] = v;
      }
    }
  }
  return tags;
}

std::string NativeTarget(const Tags& tags) {
  auto get = [&](const char* key) {
    auto it = tags.find(key);
    return it == tags.end() ? std::string() : it->second;
  };
  const std::string arch = get("arch");
  if (get("os") == "darwin" && arch == "arm64") return "apple-silicon";
  if (arch == "aarch64" || arch == "arm64") return "arm64";
  if (arch == "x86_64") {
    if (get("cpu.vendor") == "intel") return "intel-x86";
    if (get("cpu.vendor") == "amd") return "amd-x86";
  }
  return "";
}

Result<Tags> ParseLabels(const std::vector<std::string>& labels) {
  Tags tags;
  for (const std::string& label : labels) {
    const size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument("label '" + label + "' is not of the form key=value");
    }
    const std::string key = label.substr(0, eq);
    if (std::any_of(key.begin(), key.end(), [](unsigned char c) { return std::isspace(c) != 0; })) {
      return InvalidArgument("label key '" + key + "' contains whitespace");
    }
    tags[key] = label.substr(eq + 1);
  }
  return tags;
}

}  // namespace edgefarm::worker
