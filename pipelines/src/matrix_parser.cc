// Parsers for `matrix`, `recipes` and `gates`. Names are checked against the frameworks, the
// built-in and custom targets and the scheme tables here, at the node that names them, so every
// error points at the offending word.
#include <algorithm>
#include <set>

#include "edgefarm/pipelines/gates.h"
#include "edgefarm/pipelines/targets.h"
#include "sections.h"
#include "text_util.h"

namespace edgefarm::pipelines::internal {
namespace {

std::vector<std::string> FrameworkNames() {
  return std::vector<std::string>(std::begin(kFrameworks), std::end(kFrameworks));
}

// Built-in and custom target names, plus "native" where the context allows it.
std::vector<std::string> TargetNames(const Pipeline& pipeline, bool with_native) {
  std::set<std::string> names;
  for (const auto& [name, tags] : BuiltinTargets()) names.insert(name);
  for (const auto& [name, tags] : pipeline.targets) names.insert(name);
  std::vector<std::string> out(names.begin(), names.end());
  if (with_native) out.emplace_back(kNativeTarget);
  return out;
}

std::optional<std::vector<std::string>> NameList(YamlReader& reader, const YAML::Node& node,
                                                 std::string_view what, std::string_view kind,
                                                 const std::vector<std::string>& allowed) {
  if (!node.IsSequence()) {
    reader.Error(node, "expected a list of strings for '" + std::string(what) + "', got " +
                           YamlReader::Kind(node));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const YAML::Node& item : node) {
    std::optional<std::string> name = reader.OneOf(item, what, kind, allowed);
    if (!name) {
      ok = false;
    } else if (std::find(out.begin(), out.end(), *name) != out.end()) {
      reader.Error(item, "duplicate " + std::string(kind) + " '" + *name + "' in '" +
                             std::string(what) + "'");
      ok = false;
    } else {
      out.push_back(*name);
    }
  }
  if (!ok) return std::nullopt;
  if (out.empty()) reader.Error(node, "'" + std::string(what) + "' must not be empty");
  return out;
}

std::vector<MatrixEntry> ParseEntries(YamlReader& reader, const YAML::Node& node,
                                      const std::string& what, const Pipeline& pipeline,
                                      bool both_required) {
  std::vector<MatrixEntry> out;
  if (!reader.ExpectList(node, what)) return out;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_what = what + "[" + std::to_string(i) + "]";
    if (!reader.ExpectMap(item, item_what)) continue;
    reader.CheckKeys(item, InSection(item_what), {"framework", "target"});
    MatrixEntry entry;
    entry.location = YamlReader::Where(item);
    bool ok = true;
    if (const YAML::Node n = item["framework"]) {
      auto v = reader.OneOf(n, item_what + ".framework", "framework", FrameworkNames());
      ok = ok && v.has_value();
      if (v) entry.framework = *v;
    }
    if (const YAML::Node n = item["target"]) {
      auto v = reader.OneOf(n, item_what + ".target", "target", TargetNames(pipeline, true));
      ok = ok && v.has_value();
      if (v) entry.target = *v;
    }
    const bool has_both = item["framework"] && item["target"];
    const bool has_any = item["framework"] || item["target"];
    if (both_required ? !has_both : !has_any) {
      reader.Error(
          item, "'" + item_what + "' needs " +
                    (both_required ? "both 'framework' and 'target'" : "'framework' or 'target'"));
      ok = false;
    }
    if (ok) out.push_back(entry);
  }
  return out;
}

void ParseMatrixLists(YamlReader& reader, const YAML::Node& node, Pipeline* p) {
  MatrixSpec& m = p->matrix;
  if (const YAML::Node n = node["framework"]) {
    if (auto v = NameList(reader, n, "matrix.framework", "framework", FrameworkNames())) {
      m.frameworks = *v;
    }
  }
  if (const YAML::Node n = node["target"]) {
    if (auto v = NameList(reader, n, "matrix.target", "target", TargetNames(*p, true))) {
      m.targets = *v;
    }
  }
  if (const YAML::Node n = node["include"]) {
    m.include = ParseEntries(reader, n, "matrix.include", *p, true);
  }
  if (const YAML::Node n = node["exclude"]) {
    m.exclude = ParseEntries(reader, n, "matrix.exclude", *p, false);
  }
}

}  // namespace

void ParseMatrix(YamlReader& reader, const YAML::Node& node, Pipeline* p) {
  MatrixSpec& m = p->matrix;
  m.present = true;
  m.location = YamlReader::Where(node);
  if (!reader.ExpectMap(node, "matrix")) return;
  reader.CheckKeys(node, InSection("matrix"),
                   {"framework", "target", "include", "exclude", "select"});
  if (const YAML::Node n = node["select"]) {
    m.select_auto = reader.OneOf(n, "matrix.select", "selection", {"auto"}).has_value();
  }
  ParseMatrixLists(reader, node, p);
  const bool has_framework = static_cast<bool>(node["framework"]);
  const bool has_target = static_cast<bool>(node["target"]);
  if (node["select"]) {
    if (!has_target) reader.Error(node, "'matrix.select: auto' needs a 'target' list");
  } else if (has_framework != has_target) {
    reader.Error(node, std::string("missing key '") + (has_framework ? "target" : "framework") +
                           "' in 'matrix'");
  } else if (!has_framework && !node["include"]) {
    reader.Error(node, "'matrix' needs 'framework' and 'target' lists (or 'include')");
  }
}

namespace {

void ParseSchemeOnly(YamlReader& reader, const YAML::Node& node, const std::string& framework,
                     std::string* scheme, bool* pure) {
  const std::string what = "recipes." + framework;
  if (!reader.ExpectMap(node, what)) return;
  if (pure != nullptr) {
    reader.CheckKeys(node, InSection(what), {"scheme", "pure"});
  } else {
    reader.CheckKeys(node, InSection(what), {"scheme"});
  }
  if (const YAML::Node n = node["scheme"]) {
    if (auto v = reader.OneOf(n, what + ".scheme", "scheme", SchemesFor(framework))) *scheme = *v;
  }
  if (pure == nullptr) return;
  if (const YAML::Node n = node["pure"]) {
    if (auto v = reader.Bool(n, what + ".pure")) *pure = *v;
  }
}

void ParseOlive(YamlReader& reader, const YAML::Node& node, OliveRecipe* olive) {
  if (!reader.ExpectMap(node, "recipes.olive")) return;
  reader.CheckKeys(node, InSection("recipes.olive"),
                   {"candidates", "weights", "min_accuracy_retention", "max_model_bytes"});
  if (const YAML::Node n = node["candidates"]) {
    if (auto v = NameList(reader, n, "recipes.olive.candidates", "scheme", SchemesFor("olive"))) {
      olive->candidates = *v;
    }
  }
  if (const YAML::Node n = node["weights"]; n && reader.ExpectMap(n, "recipes.olive.weights")) {
    reader.CheckKeys(n, InSection("recipes.olive.weights"), {"speed", "accuracy", "memory"});
    for (auto [key, value] : {std::pair{"speed", &olive->weights.speed},
                              std::pair{"accuracy", &olive->weights.accuracy},
                              std::pair{"memory", &olive->weights.memory}}) {
      if (const YAML::Node w = n[key]) {
        if (auto v = reader.Number(w, std::string("recipes.olive.weights.") + key, 0, 1e6)) {
          *value = *v;
        }
      }
    }
    if (olive->weights.speed + olive->weights.accuracy + olive->weights.memory <= 0) {
      reader.Error(n, "'recipes.olive.weights' must not all be zero");
    }
  }
  if (const YAML::Node n = node["min_accuracy_retention"]) {
    olive->min_accuracy_retention =
        reader.Number(n, "recipes.olive.min_accuracy_retention", 0, 1e6);
  }
  if (const YAML::Node n = node["max_model_bytes"]) {
    if (auto v = reader.Int(n, "recipes.olive.max_model_bytes", 0, INT64_MAX)) {
      olive->max_model_bytes = static_cast<uint64_t>(*v);
    }
  }
}

}  // namespace

void ParseRecipes(YamlReader& reader, const YAML::Node& node, Recipes* recipes) {
  if (!reader.ExpectMap(node, "recipes")) return;
  reader.CheckKeys(node, InSection("recipes"), FrameworkNames());
  if (const YAML::Node n = node["llama_cpp"]) {
    ParseSchemeOnly(reader, n, "llama_cpp", &recipes->llama_cpp.scheme, &recipes->llama_cpp.pure);
  }
  if (const YAML::Node n = node["openvino"]) {
    ParseSchemeOnly(reader, n, "openvino", &recipes->openvino.scheme, nullptr);
  }
  if (const YAML::Node n = node["mlx"]) {
    ParseSchemeOnly(reader, n, "mlx", &recipes->mlx.scheme, nullptr);
  }
  if (const YAML::Node n = node["olive"]) ParseOlive(reader, n, &recipes->olive);
}

namespace {

std::vector<Gate> GateList(YamlReader& reader, const YAML::Node& node, const std::string& what,
                           const std::string& target) {
  std::vector<Gate> out;
  auto list = reader.StringList(node, what);
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    Result<Gate> gate = ParseGateExpression((*list)[i]);
    if (!gate.ok()) {
      reader.Error(node[i], gate.status().message());
      continue;
    }
    gate->target = target;
    gate->location = YamlReader::Where(node[i]);
    out.push_back(*gate);
  }
  return out;
}

}  // namespace

void ParseGates(YamlReader& reader, const YAML::Node& node, const Pipeline& pipeline,
                GatesSpec* gates) {
  if (node.IsSequence()) {
    gates->gates = GateList(reader, node, "gates", "");
    return;
  }
  if (!node.IsMap()) {
    reader.Error(node, "expected a list of gate expressions or a map for 'gates', got " +
                           YamlReader::Kind(node));
    return;
  }
  reader.CheckKeys(node, InSection("gates"), {"checks", "overrides", "no_data"});
  if (const YAML::Node n = node["checks"]) gates->gates = GateList(reader, n, "gates.checks", "");
  if (const YAML::Node n = node["no_data"]) {
    auto v = reader.OneOf(n, "gates.no_data", "policy", {"fail", "pass", "skip"});
    if (v == "pass") gates->no_data = NoDataPolicy::kPass;
    if (v == "skip") gates->no_data = NoDataPolicy::kSkip;
  }
  const YAML::Node overrides = node["overrides"];
  if (!overrides || !reader.ExpectMap(overrides, "gates.overrides")) return;
  for (const auto& entry : overrides) {
    auto target =
        reader.OneOf(entry.first, "gates.overrides", "target", TargetNames(pipeline, false));
    if (!target) continue;
    gates->overrides[*target] =
        GateList(reader, entry.second, "gates.overrides." + *target, *target);
  }
}

}  // namespace edgefarm::pipelines::internal
