// Text helpers: edit distance for "did you mean" suggestions and duration parsing.
#include "text_util.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>

#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::pipelines {
namespace internal {

size_t EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  // A third of the word's length (at least 1, at most 3) keeps suggestions for typos without
  // proposing unrelated short keys.
  const size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (distance <= limit && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string suggestion = Suggest(word, candidates);
  if (suggestion.empty()) return "";
  return " (did you mean '" + suggestion + "'?)";
}

std::string Quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '\'').append(text).append(1, '\'');
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string JoinSome(const std::vector<std::string>& items, size_t limit) {
  if (items.size() <= limit) return Join(items, ", ");
  std::vector<std::string> head(items.begin(), items.begin() + static_cast<long>(limit));
  return Join(head, ", ") + ", ... (" + std::to_string(items.size() - limit) + " more)";
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace internal

std::optional<int64_t> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t number = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > 100'000'000) return std::nullopt;  // over three years: a typo, not a timeout
      ++i;
      ++digits;
    }
    if (digits == 0 || i == text.size()) return std::nullopt;  // bare numbers have no unit
    const char unit = text[i++];
    int64_t scale = 0;
    if (unit == 's') scale = 1;
    if (unit == 'm') scale = 60;
    if (unit == 'h') scale = 3600;
    if (unit == 'd') scale = 86400;
    if (scale == 0) return std::nullopt;
    total += number * scale;
    if (total > 100'000'000) return std::nullopt;
  }
  return total;
}

}  // namespace edgefarm::pipelines
