// Glob matching for `on.push`. Backtracking over at most one `*`/`**` at a time keeps it linear
// enough for branch names and paths (both short) without building an automaton.
#include "edgefarm/pipelines/trigger_filter.h"

#include <algorithm>

namespace edgefarm::pipelines {
namespace {

bool Match(std::string_view p, std::string_view t) {
  while (!p.empty()) {
    if (p.substr(0, 2) == "**") {
      p.remove_prefix(2);
      // "dir/**/x" also matches "dir/x": let "**/" match nothing.
      if (!p.empty() && p.front() == '/' && Match(p.substr(1), t)) return true;
      for (size_t i = 0; i <= t.size(); ++i) {
        if (Match(p, t.substr(i))) return true;
      }
      return false;
    }
    if (p.front() == '*') {
      p.remove_prefix(1);
      for (size_t i = 0; i <= t.size(); ++i) {
        if (Match(p, t.substr(i))) return true;
        if (i < t.size() && t[i] == '/') break;
      }
      return false;
    }
    if (t.empty()) return false;
    if (p.front() == '?' ? t.front() == '/' : p.front() != t.front()) return false;
    p.remove_prefix(1);
    t.remove_prefix(1);
  }
  return t.empty();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return Match(pattern, text);
}

bool PushTriggers(const PushTrigger& trigger, std::string_view branch,
                  const std::vector<std::string>& changed_paths) {
  if (!trigger.enabled) return false;
  if (branch.substr(0, 11) == "refs/heads/") branch.remove_prefix(11);
  const auto matches = [](const std::vector<std::string>& globs, std::string_view text) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& g) { return GlobMatch(g, text); });
  };
  if (!trigger.branches.empty() && !matches(trigger.branches, branch)) return false;
  if (trigger.paths.empty()) return true;
  return std::any_of(changed_paths.begin(), changed_paths.end(),
                     [&](const std::string& path) { return matches(trigger.paths, path); });
}

}  // namespace edgefarm::pipelines
