// Whether a push starts a run, from the pipeline's `on.push` branch and path globs.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::pipelines {

// Glob match: `*` any run of characters except '/', `**` any run including '/', `?` one
// character except '/'; everything else literal. "release/*" matches "release/1.2".
bool GlobMatch(std::string_view pattern, std::string_view text);

// True when push is enabled, `branch` (without "refs/heads/") matches one of the branch globs
// (or there are none) and some changed path matches one of the path globs (or there are none;
// an empty `changed_paths` with path globs present does not match).
bool PushTriggers(const PushTrigger& trigger, std::string_view branch,
                  const std::vector<std::string>& changed_paths);

}  // namespace edgefarm::pipelines
