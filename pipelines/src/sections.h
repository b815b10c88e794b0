// Section parsers of the pipeline loader (internal). Each reads one top-level key's node into
// the Pipeline, recording every problem in the reader and leaving defaults where values are bad.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "edgefarm/pipelines/expand.h"
#include "edgefarm/pipelines/pipeline.h"
#include "text_util.h"
#include "yaml_reader.h"

namespace edgefarm::pipelines::internal {

// matrix_parser.cc. ParseMatrix needs Pipeline::targets parsed first (custom target names).
void ParseMatrix(YamlReader& reader, const YAML::Node& node, Pipeline* pipeline);
void ParseRecipes(YamlReader& reader, const YAML::Node& node, Recipes* recipes);
void ParseGates(YamlReader& reader, const YAML::Node& node, const Pipeline& pipeline,
                GatesSpec* gates);

// steps_parser.cc. ParseSteps needs Pipeline::targets parsed first.
void ParseSteps(YamlReader& reader, const YAML::Node& node, Pipeline* pipeline);
std::optional<RetryPolicy> ParseRetry(YamlReader& reader, const YAML::Node& node,
                                      std::string_view what);
void ParseStaging(YamlReader& reader, const YAML::Node& node, StagingSpec* staging);
void ParsePromotion(YamlReader& reader, const YAML::Node& node, PromotionSpec* promotion);

// expand.cc: the engine cells (framework, target) in expansion order. With an empty
// `native_target` the pseudo-target stays "native" (used to count before a host is known).
std::vector<MatrixEntry> MatrixCells(const Pipeline& pipeline, const std::string& native_target);
// Jobs the steps expand to (a matrixed step counts once per target).
size_t StepJobCount(const Pipeline& pipeline);

// "pipeline" for the top level, "'matrix'" for a section: names the map in unknown-key errors.
inline std::string InSection(std::string_view key) {
  return Quoted(key);
}

}  // namespace edgefarm::pipelines::internal
