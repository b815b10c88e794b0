// Typed reads from yaml-cpp nodes that collect "FILE:LINE:COL: message" errors instead of
// throwing (internal to edgefarm_pipelines; the only place besides the loader that sees yaml-cpp).
//
// Every accessor returns nullopt after recording an error when the node has the wrong shape, so a
// parser can keep going and report every problem in one pass. Not thread-safe; one per load.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::pipelines::internal {

class YamlReader {
 public:
  explicit YamlReader(std::string file_name) : file_name_(std::move(file_name)) {}

  const std::string& file_name() const { return file_name_; }
  bool has_errors() const { return !errors_.empty(); }
  // "FILE:LINE:COL: message" lines ordered by position (stable for equal positions).
  std::vector<std::string> errors() const;

  void Error(const YAML::Mark& mark, std::string_view message);
  void Error(const YAML::Node& node, std::string_view message);
  void Error(SourceLocation location, std::string_view message);
  static SourceLocation Where(const YAML::Node& node);

  // "a map", "a list", "nothing", or the scalar quoted ('abc'), for "got ..." in messages.
  static std::string Kind(const YAML::Node& node);

  bool ExpectMap(const YAML::Node& node, std::string_view what);
  bool ExpectList(const YAML::Node& node, std::string_view what);
  // Records "unknown key 'k' in CONTEXT (did you mean 'x'?)" and "duplicate key 'k'".
  void CheckKeys(const YAML::Node& map, std::string_view context,
                 const std::vector<std::string>& allowed);

  std::optional<std::string> String(const YAML::Node& node, std::string_view what);
  std::optional<std::vector<std::string>> StringList(const YAML::Node& node, std::string_view what);
  std::optional<int64_t> Int(const YAML::Node& node, std::string_view what, int64_t min,
                             int64_t max);
  std::optional<double> Number(const YAML::Node& node, std::string_view what, double min,
                               double max);
  std::optional<bool> Bool(const YAML::Node& node, std::string_view what);
  // "30s", "10m", "1h" → seconds, at least `min_seconds`.
  std::optional<int64_t> Duration(const YAML::Node& node, std::string_view what,
                                  int64_t min_seconds);
  // A map of scalar → scalar (tags, env).
  std::optional<Tags> StringMap(const YAML::Node& node, std::string_view what);
  // A string that must be one of `allowed` ("unknown KIND 'x' for 'what' (did you mean ..)").
  std::optional<std::string> OneOf(const YAML::Node& node, std::string_view what,
                                   std::string_view kind, const std::vector<std::string>& allowed);

 private:
  std::string file_name_;
  std::vector<std::pair<SourceLocation, std::string>> errors_;
};

}  // namespace edgefarm::pipelines::internal
