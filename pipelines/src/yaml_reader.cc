// YamlReader: shape checks over yaml-cpp nodes. yaml-cpp's Mark is 0-based; errors add 1 so they
// read like an editor's line:column. Scalars are converted with YAML::convert<T>::decode, which
// reports failure by return value rather than by exception.
#include "yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "text_util.h"

namespace edgefarm::pipelines::internal {

void YamlReader::Error(const YAML::Mark& mark, std::string_view message) {
  // A mark of -1 (yaml-cpp's "no position") becomes 1:1 rather than 0:0.
  const int line = mark.line >= 0 ? mark.line + 1 : 1;
  const int column = mark.column >= 0 ? mark.column + 1 : 1;
  Error(SourceLocation{line, column}, message);
}

void YamlReader::Error(const YAML::Node& node, std::string_view message) {
  Error(Where(node), message);
}

void YamlReader::Error(SourceLocation location, std::string_view message) {
  location.line = std::max(location.line, 1);
  location.column = std::max(location.column, 1);
  errors_.emplace_back(location, std::string(message));
}

std::vector<std::string> YamlReader::errors() const {
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first.line, a.first.column) < std::pair(b.first.line, b.first.column);
  });
  std::vector<std::string> lines;
  for (const auto& [at, message] : sorted) {
    lines.push_back(file_name_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                    ": " + message);
  }
  return lines;
}

SourceLocation YamlReader::Where(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return SourceLocation{mark.line >= 0 ? mark.line + 1 : 1, mark.column >= 0 ? mark.column + 1 : 1};
}

std::string YamlReader::Kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 40) text = text.substr(0, 37) + "...";
      return "'" + text + "'";
    }
    default:
      return "nothing";
  }
}

bool YamlReader::ExpectMap(const YAML::Node& node, std::string_view what) {
  if (node.IsMap()) return true;
  Error(node, "expected a map for '" + std::string(what) + "', got " + Kind(node));
  return false;
}

bool YamlReader::ExpectList(const YAML::Node& node, std::string_view what) {
  if (node.IsSequence()) return true;
  Error(node, "expected a list for '" + std::string(what) + "', got " + Kind(node));
  return false;
}

void YamlReader::CheckKeys(const YAML::Node& map, std::string_view context,
                           const std::vector<std::string>& allowed) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      Error(key, "expected a plain key in " + std::string(context) + ", got " + Kind(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (!seen.insert(name).second) {
      Error(key, "duplicate key '" + name + "' in " + std::string(context));
    } else if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      Error(key,
            "unknown key '" + name + "' in " + std::string(context) + DidYouMean(name, allowed));
    }
  }
}

std::optional<std::string> YamlReader::String(const YAML::Node& node, std::string_view what) {
  if (node.IsScalar()) return node.Scalar();
  Error(node, "expected a string for '" + std::string(what) + "', got " + Kind(node));
  return std::nullopt;
}

std::optional<std::vector<std::string>> YamlReader::StringList(const YAML::Node& node,
                                                               std::string_view what) {
  if (!node.IsSequence()) {
    Error(node, "expected a list of strings for '" + std::string(what) + "', got " + Kind(node));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const YAML::Node& item : node) {
    if (item.IsScalar()) {
      out.push_back(item.Scalar());
    } else {
      Error(item, "expected a string in '" + std::string(what) + "', got " + Kind(item));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<int64_t> YamlReader::Int(const YAML::Node& node, std::string_view what, int64_t min,
                                       int64_t max) {
  int64_t value = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
    Error(node, "expected an integer for '" + std::string(what) + "', got " + Kind(node));
    return std::nullopt;
  }
  if (value < min || value > max) {
    Error(node, "'" + std::string(what) + "' must be between " + std::to_string(min) + " and " +
                    std::to_string(max) + ", got " + std::to_string(value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> YamlReader::Number(const YAML::Node& node, std::string_view what, double min,
                                         double max) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
    Error(node, "expected a number for '" + std::string(what) + "', got " + Kind(node));
    return std::nullopt;
  }
  if (value < min || value > max) {
    Error(node, "'" + std::string(what) + "' must be between " +
                    YAML::convert<double>::encode(min).Scalar() + " and " +
                    YAML::convert<double>::encode(max).Scalar() + ", got " + node.Scalar());
    return std::nullopt;
  }
  return value;
}

std::optional<bool> YamlReader::Bool(const YAML::Node& node, std::string_view what) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    Error(node, "expected true or false for '" + std::string(what) + "', got " + Kind(node));
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> YamlReader::Duration(const YAML::Node& node, std::string_view what,
                                            int64_t min_seconds) {
  if (!node.IsScalar()) {
    Error(node, "expected a duration for '" + std::string(what) + "', got " + Kind(node));
    return std::nullopt;
  }
  const std::optional<int64_t> seconds = ParseDuration(node.Scalar());
  if (!seconds) {
    Error(node, "invalid duration '" + node.Scalar() + "' for '" + std::string(what) +
                    "' (use a number with a unit: 30s, 10m, 1h, 1h30m)");
    return std::nullopt;
  }
  if (*seconds < min_seconds) {
    Error(node, "'" + std::string(what) + "' must be at least " + std::to_string(min_seconds) +
                    "s, got '" + node.Scalar() + "'");
    return std::nullopt;
  }
  return seconds;
}

std::optional<Tags> YamlReader::StringMap(const YAML::Node& node, std::string_view what) {
  if (!node.IsMap()) {
    Error(node, "expected a map of strings for '" + std::string(what) + "', got " + Kind(node));
    return std::nullopt;
  }
  Tags out;
  bool ok = true;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
      const YAML::Node& bad = entry.first.IsScalar() ? entry.second : entry.first;
      Error(bad,
            "expected string keys and values in '" + std::string(what) + "', got " + Kind(bad));
      ok = false;
      continue;
    }
    if (!out.emplace(entry.first.Scalar(), entry.second.Scalar()).second) {
      Error(entry.first,
            "duplicate key '" + entry.first.Scalar() + "' in '" + std::string(what) + "'");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> YamlReader::OneOf(const YAML::Node& node, std::string_view what,
                                             std::string_view kind,
                                             const std::vector<std::string>& allowed) {
  std::optional<std::string> value = String(node, what);
  if (!value) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return value;
  Error(node, "unknown " + std::string(kind) + " '" + *value + "' for '" + std::string(what) + "'" +
                  DidYouMean(*value, allowed) + "; expected one of: " + JoinSome(allowed, 12));
  return std::nullopt;
}

}  // namespace edgefarm::pipelines::internal
