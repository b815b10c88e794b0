// Target → tags table, tag matching and the `select: auto` decision table.
#include "edgefarm/pipelines/targets.h"

#include <algorithm>

#include "edgefarm/pipelines/expand.h"

namespace edgefarm::pipelines {
namespace {

bool HasTag(const Tags& tags, const std::string& key, const std::string& value) {
  auto it = tags.find(key);
  return it != tags.end() && it->second == value;
}

}  // namespace

const std::map<std::string, Tags>& BuiltinTargets() {
  static const std::map<std::string, Tags> kTargets = {
      {"intel-x86", {{"arch", "x86_64"}, {"cpu.vendor", "intel"}}},
      {"amd-x86", {{"arch", "x86_64"}, {"cpu.vendor", "amd"}}},
      {"arm64", {{"arch", "aarch64"}}},
      {"nvidia-cuda", {{"gpu.vendor", "nvidia"}}},
      {"apple-silicon", {{"os", "darwin"}, {"arch", "arm64"}}},
  };
  return kTargets;
}

std::vector<std::string> MissingTags(const Tags& required, const Tags& offered) {
  std::vector<std::string> missing;
  for (const auto& [key, value] : required) {
    if (!HasTag(offered, key, value)) missing.push_back(key + "=" + value);
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

bool LookupTarget(const Pipeline& pipeline, std::string_view name, Tags* tags) {
  const std::string key(name);
  if (auto it = pipeline.targets.find(key); it != pipeline.targets.end()) {
    *tags = it->second;
    return true;
  }
  if (auto it = BuiltinTargets().find(key); it != BuiltinTargets().end()) {
    *tags = it->second;
    return true;
  }
  return false;
}

std::string TargetForTags(const Tags& offered) {
  static const char* const kOrder[] = {"apple-silicon", "intel-x86", "amd-x86", "arm64",
                                       "nvidia-cuda"};
  for (const char* name : kOrder) {
    if (MissingTags(BuiltinTargets().at(name), offered).empty()) return name;
  }
  return "";
}

std::vector<std::string> PreferredFrameworks(const Tags& tags) {
  // Order matters: a GPU decides before the CPU it sits next to, and Apple before generic ARM.
  if (HasTag(tags, "gpu.vendor", "nvidia")) return {"olive", "openvino"};
  if (HasTag(tags, "os", "darwin") &&
      (HasTag(tags, "arch", "arm64") || HasTag(tags, "arch", "aarch64"))) {
    return {"mlx", "llama_cpp"};
  }
  if (HasTag(tags, "cpu.vendor", "intel") || HasTag(tags, "gpu.vendor", "intel")) {
    return {"openvino", "olive"};
  }
  if (HasTag(tags, "arch", "aarch64") || HasTag(tags, "arch", "arm64")) {
    return {"llama_cpp", "openvino"};
  }
  return {"llama_cpp"};
}

bool IsKnownFramework(std::string_view name) {
  return std::find(std::begin(kFrameworks), std::end(kFrameworks), name) != std::end(kFrameworks);
}

const std::vector<std::string>& SchemesFor(std::string_view framework) {
  static const std::vector<std::string> kLlama = {"q8_0", "q4_0", "q4_k_m"};
  static const std::vector<std::string> kOpenVino = {"int8_sym_pc", "int4_sym_g128"};
  static const std::vector<std::string> kMlx = {"int4_affine_g64"};
  static const std::vector<std::string> kAll = {"q8_0",        "q4_0",          "q4_k_m",
                                                "int8_sym_pc", "int4_sym_g128", "int4_affine_g64"};
  static const std::vector<std::string> kNone;
  if (framework == "llama_cpp") return kLlama;
  if (framework == "openvino") return kOpenVino;
  if (framework == "mlx") return kMlx;
  if (framework == "olive") return kAll;
  return kNone;
}

}  // namespace edgefarm::pipelines
