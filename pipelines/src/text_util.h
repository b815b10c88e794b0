// Small text helpers shared by the loader and the gates (internal to edgefarm_pipelines).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace edgefarm::pipelines::internal {

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), so that the
// common typo "matirx" is one edit from "matrix".
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a plausible typo; else empty.
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// 'text' (built piecewise; GCC 12 gives a false -Wrestrict on "'" + std::string(text)).
std::string Quoted(std::string_view text);

// "a, b, c"
std::string Join(const std::vector<std::string>& items, std::string_view separator);

// "a, b, c" with at most `limit` items, then ", ... (N more)".
std::string JoinSome(const std::vector<std::string>& items, size_t limit);

// Letters, digits, '-', '_', '.'; 1 to 100 characters. Names that become parts of job names.
bool IsValidName(std::string_view name);

}  // namespace edgefarm::pipelines::internal
