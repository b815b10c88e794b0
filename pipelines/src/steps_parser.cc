// Parsers for `steps`, `retry`, `staging` and `promotion`. Step names and `needs` are resolved
// after the whole list is read (a step may need one defined below it); cycles are found with a
// depth-first search and reported once, at the step where the cycle was entered.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "edgefarm/pipelines/targets.h"
#include "sections.h"
#include "text_util.h"

namespace edgefarm::pipelines::internal {
namespace {

std::vector<std::string> AllTargetNames(const Pipeline& pipeline) {
  std::vector<std::string> names;
  for (const auto& [name, tags] : BuiltinTargets()) names.push_back(name);
  for (const auto& [name, tags] : pipeline.targets) {
    if (!BuiltinTargets().count(name)) names.push_back(name);
  }
  names.emplace_back(kNativeTarget);
  return names;
}

void ParseRun(YamlReader& reader, const YAML::Node& node, const std::string& what, Step* step) {
  if (node.IsScalar()) {
    reader.Error(node, "'" + what + "' must be a list of arguments, not a string (no shell " +
                           "is involved): write run: [make, test], or run: [sh, -c, \"" +
                           node.Scalar() + "\"] to use a shell");
    return;
  }
  auto argv = reader.StringList(node, what);
  if (!argv) return;
  if (argv->empty() || argv->front().empty()) {
    reader.Error(node, "'" + what + "' needs at least a program name");
    return;
  }
  step->run = *argv;
}

void ParseStepMatrix(YamlReader& reader, const YAML::Node& node, const std::string& what,
                     const Pipeline& pipeline, Step* step) {
  if (!reader.ExpectMap(node, what)) return;
  reader.CheckKeys(node, InSection(what), {"target"});
  const YAML::Node targets = node["target"];
  if (!targets) {
    reader.Error(node, "missing key 'target' in '" + what + "'");
    return;
  }
  if (!reader.ExpectList(targets, what + ".target")) return;
  for (const YAML::Node& item : targets) {
    auto target = reader.OneOf(item, what + ".target", "target", AllTargetNames(pipeline));
    if (!target) continue;
    if (std::find(step->matrix_targets.begin(), step->matrix_targets.end(), *target) !=
        step->matrix_targets.end()) {
      reader.Error(item, "duplicate target '" + *target + "' in '" + what + ".target'");
      continue;
    }
    step->matrix_targets.push_back(*target);
  }
  if (targets.size() == 0) reader.Error(targets, "'" + what + ".target' must not be empty");
}

void ParseStepFields(YamlReader& reader, const YAML::Node& node, const std::string& what,
                     const Pipeline& pipeline, Step* step) {
  if (const YAML::Node n = node["run"]) {
    ParseRun(reader, n, what + ".run", step);
  } else {
    reader.Error(node, "missing key 'run' in '" + what + "'");
  }
  if (const YAML::Node n = node["env"]) {
    if (auto env = reader.StringMap(n, what + ".env")) step->env = *env;
  }
  if (const YAML::Node n = node["requires"]) {
    if (auto tags = reader.StringMap(n, what + ".requires")) step->requires_tags = *tags;
  }
  if (const YAML::Node n = node["timeout"]) {
    if (auto v = reader.Duration(n, what + ".timeout", 1)) step->timeout_seconds = int(*v);
  }
  if (const YAML::Node n = node["needs"]) {
    if (auto needs = reader.StringList(n, what + ".needs")) step->needs = *needs;
  }
  if (const YAML::Node n = node["matrix"])
    ParseStepMatrix(reader, n, what + ".matrix", pipeline, step);
  if (const YAML::Node n = node["retry"]) step->retry = ParseRetry(reader, n, what + ".retry");
  if (const YAML::Node n = node["resource_group"]) {
    if (auto group = reader.String(n, what + ".resource_group")) step->resource_group = *group;
    if (!IsValidName(step->resource_group)) {
      reader.Error(n, "'" + what +
                          ".resource_group' must be a name (letters, digits, '-', '_', "
                          "'.'), got '" +
                          step->resource_group + "'");
    }
  }
}

struct StepNodes {
  YAML::Node step;
  YAML::Node needs;
};

void CheckNeeds(YamlReader& reader, const std::vector<Step>& steps,
                const std::vector<StepNodes>& nodes) {
  std::vector<std::string> names;
  for (const Step& s : steps) names.push_back(s.name);
  for (size_t i = 0; i < steps.size(); ++i) {
    for (size_t j = 0; j < steps[i].needs.size(); ++j) {
      const std::string& need = steps[i].needs[j];
      const YAML::Node at = nodes[i].needs[j];
      if (need == steps[i].name) {
        reader.Error(at, "step '" + need + "' needs itself");
      } else if (std::find(names.begin(), names.end(), need) == names.end()) {
        reader.Error(at, "step '" + steps[i].name + "' needs unknown step '" + need + "'" +
                             DidYouMean(need, names));
      }
    }
  }
}

void CheckCycles(YamlReader& reader, const std::vector<Step>& steps) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < steps.size(); ++i) index.emplace(steps[i].name, i);
  std::vector<int> state(steps.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<size_t> path;
  std::function<bool(size_t)> visit = [&](size_t i) {
    state[i] = 1;
    path.push_back(i);
    for (const std::string& need : steps[i].needs) {
      auto it = index.find(need);
      if (it == index.end() || it->second == i) continue;  // reported by CheckNeeds
      const size_t j = it->second;
      if (state[j] == 1) {
        std::string cycle;
        auto start = std::find(path.begin(), path.end(), j);
        for (auto k = start; k != path.end(); ++k) cycle += steps[*k].name + " -> ";
        reader.Error(steps[j].location, "cycle in step needs: " + cycle + steps[j].name);
        return true;
      }
      if (state[j] == 0 && visit(j)) return true;
    }
    path.pop_back();
    state[i] = 2;
    return false;
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    path.clear();
    if (state[i] == 0 && visit(i)) return;  // one cycle report is enough to act on
  }
}

}  // namespace

void ParseSteps(YamlReader& reader, const YAML::Node& node, Pipeline* p) {
  if (!reader.ExpectList(node, "steps")) return;
  std::vector<StepNodes> nodes;
  std::map<std::string, SourceLocation> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string what = "steps[" + std::to_string(i) + "]";
    if (!reader.ExpectMap(item, what)) continue;
    reader.CheckKeys(item, InSection(what),
                     {"name", "run", "env", "requires", "timeout", "needs", "matrix", "retry",
                      "resource_group"});
    Step step;
    step.location = YamlReader::Where(item);
    if (const YAML::Node n = item["name"]) {
      if (auto name = reader.String(n, what + ".name")) step.name = *name;
      if (!IsValidName(step.name)) {
        reader.Error(
            n, "invalid step name '" + step.name + "' (use letters, digits, '-', '_' and '.')");
      } else if (auto [it, fresh] = seen.emplace(step.name, step.location); !fresh) {
        reader.Error(n, "duplicate step name '" + step.name + "' (first defined at line " +
                            std::to_string(it->second.line) + ")");
        continue;
      }
    } else {
      reader.Error(item, "missing key 'name' in '" + what + "'");
    }
    ParseStepFields(reader, item, what, *p, &step);
    if (step.name.empty()) continue;
    nodes.push_back(StepNodes{item, item["needs"]});
    p->steps.push_back(std::move(step));
  }
  CheckNeeds(reader, p->steps, nodes);
  CheckCycles(reader, p->steps);
}

std::optional<RetryPolicy> ParseRetry(YamlReader& reader, const YAML::Node& node,
                                      std::string_view what) {
  const std::string w(what);
  if (!reader.ExpectMap(node, w)) return std::nullopt;
  reader.CheckKeys(node, InSection(w), {"infra", "job"});
  RetryPolicy retry;
  if (const YAML::Node n = node["infra"]) {
    if (auto v = reader.Int(n, w + ".infra", 0, 20)) retry.infra = int(*v);
  }
  if (const YAML::Node n = node["job"]) {
    if (auto v = reader.Int(n, w + ".job", 0, 20)) retry.job = int(*v);
  }
  return retry;
}

}  // namespace edgefarm::pipelines::internal
