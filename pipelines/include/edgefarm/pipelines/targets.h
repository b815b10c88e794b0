// Hardware targets: their worker tags and the framework decision table of `select: auto`.
//
// BuiltinTargets() and MissingTags() are declared in expand.h as well (the shared contract).
// Pure functions over static tables; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::pipelines {

// intel-x86, amd-x86, arm64, nvidia-cuda, apple-silicon → their tags (DESIGN.md).
const std::map<std::string, Tags>& BuiltinTargets();

// The required tags a worker does not offer, as "key=value", sorted. Empty: the worker matches.
std::vector<std::string> MissingTags(const Tags& required, const Tags& offered);

// The tags of target `name`: the pipeline's custom definition if any, else the built-in one.
// Returns false when the name is neither.
bool LookupTarget(const Pipeline& pipeline, std::string_view name, Tags* tags);

// The built-in target a machine with `offered` tags is, for `native`: the first whose tags all
// match in the order apple-silicon, intel-x86, amd-x86, arm64, nvidia-cuda. Empty: none.
std::string TargetForTags(const Tags& offered);

// The seed decision table, by a target's tags: Intel → openvino, olive; NVIDIA GPU → olive,
// openvino; Apple Silicon → mlx, llama_cpp; ARM → llama_cpp, openvino; otherwise llama_cpp.
std::vector<std::string> PreferredFrameworks(const Tags& target_tags);

bool IsKnownFramework(std::string_view name);

// Schemes each framework accepts in `recipes` (olive: its candidates, any of the others').
const std::vector<std::string>& SchemesFor(std::string_view framework);

}  // namespace edgefarm::pipelines
