// LoadPipeline: YAML text → validated Pipeline. yaml-cpp parse errors and any exception it throws
// while walking nodes are converted to "FILE:LINE:COL: message"; section parsers keep going after
// an error so one load reports every problem, one per line.
#include "edgefarm/pipelines/pipeline_loader.h"

#include <yaml-cpp/yaml.h>

#include "sections.h"
#include "text_util.h"
#include "yaml_reader.h"

namespace edgefarm::pipelines {
namespace {

using internal::InSection;
using internal::YamlReader;

// Bigger than any real pipeline; keeps a hostile document from costing unbounded memory.
constexpr size_t kMaxPipelineBytes = 1 << 20;
constexpr size_t kDefaultMaxJobs = 1024;

const std::vector<std::string> kTopLevelKeys = {
    "name",  "on",    "model", "matrix",  "targets",     "recipes",  "benchmark", "eval",
    "gates", "steps", "retry", "timeout", "concurrency", "priority", "staging",   "promotion"};

bool IsSafeRelativePath(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part == "..") return false;
    start = end + 1;
  }
  return true;
}

void ParseOn(YamlReader& reader, const YAML::Node& node, PushTrigger* push) {
  // `on: push` and `on: [push]` (GitHub's short forms) mean push with no filters.
  if ((node.IsScalar() && node.Scalar() == "push") ||
      (node.IsSequence() && node.size() == 1 && node[0].IsScalar() && node[0].Scalar() == "push")) {
    push->enabled = true;
    return;
  }
  if (!reader.ExpectMap(node, "on")) return;
  reader.CheckKeys(node, InSection("on"), {"push"});
  const YAML::Node push_node = node["push"];
  push->enabled = static_cast<bool>(push_node);
  if (!push_node || push_node.IsNull()) return;
  if (!reader.ExpectMap(push_node, "on.push")) return;
  reader.CheckKeys(push_node, InSection("on.push"), {"branches", "paths"});
  if (const YAML::Node n = push_node["branches"]) {
    if (auto v = reader.StringList(n, "on.push.branches")) push->branches = *v;
  }
  if (const YAML::Node n = push_node["paths"]) {
    if (auto v = reader.StringList(n, "on.push.paths")) push->paths = *v;
  }
}

std::string ReadPath(YamlReader& reader, const YAML::Node& node, std::string_view what) {
  std::optional<std::string> path = reader.String(node, what);
  if (!path) return "";
  if (!IsSafeRelativePath(*path)) {
    std::string message = internal::Quoted(what);
    message += " must be a path relative to the pipeline file's directory, without '..', got ";
    message += internal::Quoted(*path);
    reader.Error(node, message);
    return "";
  }
  return *path;
}

void ParseModel(YamlReader& reader, const YAML::Node& node, std::optional<ModelSpec>* model) {
  if (!reader.ExpectMap(node, "model")) return;
  reader.CheckKeys(node, InSection("model"), {"path", "eval_text", "baseline"});
  ModelSpec spec;
  for (const char* key : {"path", "eval_text"}) {
    if (!node[key]) reader.Error(node, std::string("missing key '") + key + "' in 'model'");
  }
  if (const YAML::Node n = node["path"]) spec.path = ReadPath(reader, n, "model.path");
  if (const YAML::Node n = node["eval_text"]) {
    spec.eval_text = ReadPath(reader, n, "model.eval_text");
  }
  if (const YAML::Node n = node["baseline"]) spec.baseline = ReadPath(reader, n, "model.baseline");
  *model = spec;
}

void ParseTargets(YamlReader& reader, const YAML::Node& node, std::map<std::string, Tags>* out) {
  if (!reader.ExpectMap(node, "targets")) return;
  for (const auto& entry : node) {
    std::optional<std::string> name = reader.String(entry.first, "targets");
    if (!name) continue;
    if (*name == kNativeTarget || !internal::IsValidName(*name)) {
      reader.Error(entry.first, "invalid target name '" + *name +
                                    "' (use letters, digits, '-', '_' and '.'; not 'native')");
      continue;
    }
    std::optional<Tags> tags = reader.StringMap(entry.second, "targets." + *name);
    if (!tags) continue;
    if (tags->empty()) {
      reader.Error(entry.second, "target '" + *name + "' needs at least one tag");
      continue;
    }
    if (!out->emplace(*name, *tags).second) {
      reader.Error(entry.first, "duplicate target '" + *name + "'");
    }
  }
}

void ParseBenchmark(YamlReader& reader, const YAML::Node& node, BenchmarkSpec* spec) {
  if (!reader.ExpectMap(node, "benchmark")) return;
  reader.CheckKeys(node, InSection("benchmark"),
                   {"prompt_tokens", "gen_tokens", "repetitions", "threads"});
  struct Field {
    const char* key;
    int* value;
    int64_t min, max;
  };
  for (const Field& f : {Field{"prompt_tokens", &spec->prompt_tokens, 1, 65536},
                         Field{"gen_tokens", &spec->gen_tokens, 1, 65536},
                         Field{"repetitions", &spec->repetitions, 1, 1000},
                         Field{"threads", &spec->threads, 1, 1024}}) {
    if (const YAML::Node n = node[f.key]) {
      if (auto v = reader.Int(n, std::string("benchmark.") + f.key, f.min, f.max)) *f.value = *v;
    }
  }
}

void ParseEval(YamlReader& reader, const YAML::Node& node, EvalSpec* spec) {
  if (!reader.ExpectMap(node, "eval")) return;
  reader.CheckKeys(node, InSection("eval"), {"ctx", "max_chunks"});
  if (const YAML::Node n = node["ctx"]) {
    if (auto v = reader.Int(n, "eval.ctx", 4, 65536)) spec->ctx = static_cast<int>(*v);
  }
  if (const YAML::Node n = node["max_chunks"]) {
    if (auto v = reader.Int(n, "eval.max_chunks", 0, 1 << 20)) {
      spec->max_chunks = static_cast<int>(*v);
    }
  }
}

void ParseScalars(YamlReader& reader, const YAML::Node& root, Pipeline* p) {
  if (const YAML::Node n = root["name"]) {
    if (auto v = reader.String(n, "name")) {
      if (v->empty()) reader.Error(n, "'name' must not be empty");
      p->name = *v;
    }
  } else {
    reader.Error(root, "missing key 'name' in pipeline");
  }
  if (const YAML::Node n = root["timeout"]) {
    if (auto v = reader.Duration(n, "timeout", 1)) p->timeout_seconds = static_cast<int>(*v);
  }
  if (const YAML::Node n = root["concurrency"]) {
    if (auto v = reader.Int(n, "concurrency", 0, 100000)) p->concurrency = static_cast<int>(*v);
  }
  if (const YAML::Node n = root["priority"]) {
    if (auto v = reader.Int(n, "priority", 0, 100)) p->priority = static_cast<int>(*v);
  }
  if (const YAML::Node n = root["retry"]) {
    if (auto v = internal::ParseRetry(reader, n, "retry")) p->retry = *v;
  }
}

void ParseRoot(YamlReader& reader, const YAML::Node& root, Pipeline* p) {
  reader.CheckKeys(root, "pipeline", kTopLevelKeys);
  ParseScalars(reader, root, p);
  if (const YAML::Node n = root["on"]) ParseOn(reader, n, &p->push);
  if (const YAML::Node n = root["model"]) ParseModel(reader, n, &p->model);
  if (const YAML::Node n = root["targets"]) ParseTargets(reader, n, &p->targets);
  if (const YAML::Node n = root["matrix"]) {
    internal::ParseMatrix(reader, n, p);
    if (!p->model) reader.Error(n, "'matrix' needs a 'model' (path and eval_text) to optimise");
  }
  if (const YAML::Node n = root["recipes"]) internal::ParseRecipes(reader, n, &p->recipes);
  if (const YAML::Node n = root["benchmark"]) ParseBenchmark(reader, n, &p->benchmark);
  if (const YAML::Node n = root["eval"]) ParseEval(reader, n, &p->eval);
  if (const YAML::Node n = root["gates"]) internal::ParseGates(reader, n, *p, &p->gates);
  if (const YAML::Node n = root["steps"]) internal::ParseSteps(reader, n, p);
  if (const YAML::Node n = root["staging"]) {
    p->staging.emplace();
    internal::ParseStaging(reader, n, &*p->staging);
  }
  if (const YAML::Node n = root["promotion"]) {
    p->promotion.emplace();
    internal::ParsePromotion(reader, n, &*p->promotion);
  }
}

void CheckJobCount(YamlReader& reader, const Pipeline& p) {
  const size_t jobs = internal::MatrixCells(p, "").size() + internal::StepJobCount(p);
  if (jobs > kDefaultMaxJobs) {
    reader.Error(p.matrix.present ? p.matrix.location : SourceLocation{1, 1},
                 "matrix expands to " + std::to_string(jobs) + " jobs, over the limit of " +
                     std::to_string(kDefaultMaxJobs));
  }
}

}  // namespace

Result<Pipeline> LoadPipeline(std::string_view yaml_text, std::string_view file_name) {
  YamlReader reader{std::string(file_name)};
  if (yaml_text.size() > kMaxPipelineBytes) {
    return InvalidArgument(std::string(file_name) + ":1:1: the pipeline is " +
                           std::to_string(yaml_text.size()) + " bytes, over the limit of " +
                           std::to_string(kMaxPipelineBytes));
  }
  Pipeline pipeline;
  pipeline.file_name = std::string(file_name);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap()) {
      reader.Error(root,
                   "expected a map at the top of the pipeline, got " + YamlReader::Kind(root));
    } else {
      ParseRoot(reader, root, &pipeline);
      if (!reader.has_errors()) CheckJobCount(reader, pipeline);
    }
  } catch (const YAML::Exception& e) {
    // ParserException carries the position; e.msg is the message without yaml-cpp's prefix.
    reader.Error(e.mark, e.msg);
  } catch (const std::exception& e) {
    reader.Error(SourceLocation{1, 1}, std::string("cannot read the pipeline: ") + e.what());
  }
  if (reader.has_errors()) return InvalidArgument(internal::Join(reader.errors(), "\n"));
  return pipeline;
}

}  // namespace edgefarm::pipelines
