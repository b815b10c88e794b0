// Matrix expansion: cells (framework × target, or `select: auto` from the decision table), then
// includes, then excludes applied to the whole set, then duplicates (e.g. `native` resolving to a
// target also listed) dropped keeping the first; command steps follow the cells. The engine job
// record is built with an order-preserving JSON object so it reads like docs/formats.md.
#include "edgefarm/pipelines/expand.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "edgefarm/pipelines/gates.h"
#include "edgefarm/pipelines/pipeline.h"
#include "edgefarm/pipelines/targets.h"
#include "sections.h"

namespace edgefarm::pipelines {
namespace internal {
namespace {

std::string Resolve(const std::string& target, const std::string& native_target) {
  return target == kNativeTarget && !native_target.empty() ? native_target : target;
}

bool Excluded(const MatrixSpec& m, const std::string& framework, const std::string& target,
              const std::string& native_target) {
  return std::any_of(m.exclude.begin(), m.exclude.end(), [&](const MatrixEntry& e) {
    return (e.framework.empty() || e.framework == framework) &&
           (e.target.empty() || Resolve(e.target, native_target) == target);
  });
}

// `select: auto`: the decision table's choices for the target, then llama_cpp (the
// cross-platform default), limited to the listed frameworks if any; the first not excluded wins.
std::string AutoFramework(const Pipeline& p, const std::string& target,
                          const std::string& native_target) {
  Tags tags;
  LookupTarget(p, target, &tags);  // unresolved `native` has no tags: the generic row
  std::vector<std::string> choices = PreferredFrameworks(tags);
  choices.emplace_back("llama_cpp");
  for (const std::string& framework : choices) {
    const auto& allowed = p.matrix.frameworks;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), framework) == allowed.end()) {
      continue;
    }
    if (!Excluded(p.matrix, framework, target, native_target)) return framework;
  }
  return "";
}

}  // namespace

std::vector<MatrixEntry> MatrixCells(const Pipeline& p, const std::string& native_target) {
  const MatrixSpec& m = p.matrix;
  std::vector<MatrixEntry> cells;
  if (!m.present) return cells;
  for (const std::string& raw_target : m.select_auto ? m.targets : std::vector<std::string>{}) {
    const std::string target = Resolve(raw_target, native_target);
    std::string framework = AutoFramework(p, target, native_target);
    if (!framework.empty()) cells.push_back(MatrixEntry{framework, target, m.location});
  }
  if (!m.select_auto) {
    for (const std::string& framework : m.frameworks) {
      for (const std::string& target : m.targets) {
        cells.push_back(MatrixEntry{framework, Resolve(target, native_target), m.location});
      }
    }
  }
  for (const MatrixEntry& e : m.include) {
    cells.push_back(MatrixEntry{e.framework, Resolve(e.target, native_target), e.location});
  }
  std::vector<MatrixEntry> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (const MatrixEntry& cell : cells) {
    if (Excluded(m, cell.framework, cell.target, native_target)) continue;
    if (seen.emplace(cell.framework, cell.target).second) out.push_back(cell);
  }
  return out;
}

size_t StepJobCount(const Pipeline& p) {
  size_t count = 0;
  for (const Step& step : p.steps) count += std::max<size_t>(1, step.matrix_targets.size());
  return count;
}

}  // namespace internal

namespace {

std::string Located(const Pipeline& p, SourceLocation at, const std::string& message) {
  return p.file_name + ":" + std::to_string(std::max(at.line, 1)) + ":" +
         std::to_string(std::max(at.column, 1)) + ": " + message;
}

nlohmann::ordered_json RecipeJson(const Recipes& r, const std::string& framework) {
  nlohmann::ordered_json recipe = nlohmann::ordered_json::object();
  if (framework == "llama_cpp") {
    recipe["scheme"] = r.llama_cpp.scheme;
    recipe["pure"] = r.llama_cpp.pure;
  } else if (framework == "openvino") {
    recipe["scheme"] = r.openvino.scheme;
  } else if (framework == "mlx") {
    recipe["scheme"] = r.mlx.scheme;
  } else {
    recipe["candidates"] = r.olive.candidates;
    recipe["weights"] = {{"speed", r.olive.weights.speed},
                         {"accuracy", r.olive.weights.accuracy},
                         {"memory", r.olive.weights.memory}};
  }
  return recipe;
}

std::string EngineJobJson(const Pipeline& p, const std::string& framework,
                          const std::string& target) {
  nlohmann::ordered_json job;
  job["schema"] = "edgefarm.job/v1";
  job["framework"] = framework;
  job["target"] = target;
  job["recipe"] = RecipeJson(p.recipes, framework);
  job["benchmark"] = {{"prompt_tokens", p.benchmark.prompt_tokens},
                      {"gen_tokens", p.benchmark.gen_tokens},
                      {"repetitions", p.benchmark.repetitions},
                      {"threads", p.benchmark.threads}};
  job["eval"] = {{"ctx", p.eval.ctx}, {"max_chunks", p.eval.max_chunks}};
  const double floor =
      p.recipes.olive.min_accuracy_retention.value_or(AccuracyFloor(p.gates, target).value_or(0.0));
  job["constraints"] = {{"min_accuracy_retention", floor},
                        {"max_model_bytes", p.recipes.olive.max_model_bytes}};
  // Names and schemes were validated as ASCII; `replace` keeps dump() from ever throwing.
  return job.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<Tags> TargetTags(const Pipeline& p, const std::string& target, SourceLocation at) {
  if (target == kNativeTarget) {
    return InvalidArgument(Located(p, at,
                                   "target 'native' needs a native target, and none was given "
                                   "(only the embedded farm, `edgefarm up`, resolves it)"));
  }
  Tags tags;
  if (!LookupTarget(p, target, &tags)) {
    return InvalidArgument(
        Located(p, at, "'native' resolves to '" + target + "', which is not a known target"));
  }
  return tags;
}

Status AddEngineCells(const Pipeline& p, const std::vector<MatrixEntry>& cells,
                      std::vector<JobTemplate>* jobs) {
  for (const MatrixEntry& cell : cells) {
    EF_ASSIGN_OR_RETURN(Tags tags, TargetTags(p, cell.target, cell.location));
    JobTemplate job;
    job.name = cell.framework + "/" + cell.target;
    job.kind = JobTemplate::Kind::kEngine;
    job.framework = cell.framework;
    job.target = cell.target;
    job.required_tags = std::move(tags);
    job.engine_job_json = EngineJobJson(p, cell.framework, cell.target);
    job.timeout_seconds = p.timeout_seconds;
    job.retry_infra = p.retry.infra;
    job.retry_job = p.retry.job;
    if (p.model) {
      job.inputs["model"] = p.model->path;
      job.inputs["eval_text"] = p.model->eval_text;
      if (!p.model->baseline.empty()) job.inputs["baseline"] = p.model->baseline;
    }
    jobs->push_back(std::move(job));
  }
  return Status::Ok();
}

// The job names a step expands to, keyed by resolved target ("" for an unmatrixed step).
using StepJobs = std::map<std::string, std::map<std::string, std::string>>;

std::vector<std::string> NeedNames(const StepJobs& step_jobs, const Step& step,
                                   const std::string& target) {
  std::vector<std::string> names;
  for (const std::string& need : step.needs) {
    const auto& jobs = step_jobs.at(need);
    // A matrixed step needing a step matrixed over the same target waits for that target only.
    if (auto same = jobs.find(target); !target.empty() && same != jobs.end()) {
      names.push_back(same->second);
      continue;
    }
    for (const auto& [job_target, name] : jobs) names.push_back(name);
  }
  return names;
}

Status AddSteps(const Pipeline& p, const std::string& native_target,
                std::vector<JobTemplate>* jobs) {
  StepJobs step_jobs;
  for (const Step& step : p.steps) {
    auto& names = step_jobs[step.name];
    if (step.matrix_targets.empty()) names[""] = step.name;
    for (const std::string& t : step.matrix_targets) {
      const std::string target = internal::Resolve(t, native_target);
      names[target] = step.name + "/" + target;
    }
  }
  for (const Step& step : p.steps) {
    for (const auto& [target, name] : step_jobs.at(step.name)) {
      JobTemplate job;
      job.name = name;
      job.kind = JobTemplate::Kind::kCommand;
      job.target = target;
      if (!target.empty()) {
        EF_ASSIGN_OR_RETURN(job.required_tags, TargetTags(p, target, step.location));
      }
      for (const auto& [key, value] : step.requires_tags) job.required_tags[key] = value;
      job.argv = step.run;
      job.env = step.env;
      job.needs = NeedNames(step_jobs, step, target);
      job.timeout_seconds = step.timeout_seconds;
      const RetryPolicy retry = step.retry.value_or(p.retry);
      job.retry_infra = retry.infra;
      job.retry_job = retry.job;
      job.resource_group = step.resource_group;
      jobs->push_back(std::move(job));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<JobTemplate>> ExpandPipeline(const Pipeline& pipeline,
                                                const ExpandOptions& options) {
  const std::vector<MatrixEntry> cells = internal::MatrixCells(pipeline, options.native_target);
  const size_t total = cells.size() + internal::StepJobCount(pipeline);
  if (total > options.max_jobs) {
    return InvalidArgument(Located(pipeline, pipeline.matrix.location,
                                   "matrix expands to " + std::to_string(total) +
                                       " jobs, over the limit of " +
                                       std::to_string(options.max_jobs)));
  }
  std::vector<JobTemplate> jobs;
  jobs.reserve(total);
  EF_RETURN_IF_ERROR(AddEngineCells(pipeline, cells, &jobs));
  EF_RETURN_IF_ERROR(AddSteps(pipeline, options.native_target, &jobs));
  return jobs;
}

std::vector<std::string> ReferencedFiles(const Pipeline& pipeline) {
  std::set<std::string> files;
  if (pipeline.model) {
    for (const std::string* path :
         {&pipeline.model->path, &pipeline.model->eval_text, &pipeline.model->baseline}) {
      if (!path->empty()) files.insert(*path);
    }
  }
  return std::vector<std::string>(files.begin(), files.end());
}

}  // namespace edgefarm::pipelines
