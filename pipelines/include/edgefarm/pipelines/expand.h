// From a validated Pipeline to the jobs of one run (the optimisation matrix plus generic steps).
//
// Expansion is deterministic: the same pipeline and options give the same jobs in the same order
// (frameworks, then targets, in the order the YAML lists them; includes appended; excludes
// removed; steps after the cells). It is capped by ExpandOptions::max_jobs with a clear error.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::pipelines {

struct Pipeline;  // pipeline.h

using Tags = std::map<std::string, std::string>;

struct ExpandOptions {
  // What the pseudo-target `native` resolves to: the hardware target of the machine expanding the
  // pipeline (used by the embedded farm). Empty: `native` is an error.
  std::string native_target;
  size_t max_jobs = 1024;
};

struct JobTemplate {
  enum class Kind { kEngine, kCommand };

  std::string name;  // unique within the run: "llama_cpp/intel-x86", "unit-tests", "lint/arm64"
  Kind kind = Kind::kEngine;
  std::string framework;  // engine cells: llama_cpp | openvino | mlx | olive
  std::string target;     // engine cells and matrixed steps
  Tags required_tags;     // a worker must offer every one of these (equal values)
  // Engine cells: the JOB.json record for `edgefarm-engine run` without "inputs" (docs/formats.md).
  std::string engine_job_json;
  std::vector<std::string> argv;  // command steps
  std::map<std::string, std::string> env;
  std::vector<std::string> needs;  // names of jobs that must succeed before this one starts
  int timeout_seconds = 3600;
  int retry_infra = 2;         // retries after infrastructure failures
  int retry_job = 0;           // retries after the job itself failed
  std::string resource_group;  // the step's `resource_group`; "" for none
  // Repository-relative files the job reads, by role: {"model": "models/x.gguf", "eval_text": ...}
  std::map<std::string, std::string> inputs;
};

Result<std::vector<JobTemplate>> ExpandPipeline(const Pipeline& pipeline,
                                                const ExpandOptions& options);

// Repository-relative paths of every file the pipeline's jobs read (model, eval text, baseline),
// sorted and unique, so a trigger can store them in the content-addressed store before expansion.
std::vector<std::string> ReferencedFiles(const Pipeline& pipeline);

// The required tags a worker does not offer, as "key=value", sorted. Empty: the worker matches.
std::vector<std::string> MissingTags(const Tags& required, const Tags& offered);

// Built-in hardware targets and their tags (DESIGN.md "Frameworks and targets").
const std::map<std::string, Tags>& BuiltinTargets();

}  // namespace edgefarm::pipelines
