// Gate expressions and verdicts. An expression is three whitespace-optional tokens: a metric
// name, a comparison and a non-negative finite number; anything else is rejected so that a typo
// never silently turns a gate off.
#include "edgefarm/pipelines/gates.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "text_util.h"

namespace edgefarm::pipelines {
namespace {

struct OpSpelling {
  std::string_view symbol;
  GateOp op;
};
// Two-character operators first so ">=" is not read as ">".
constexpr OpSpelling kOps[] = {{">=", GateOp::kGe}, {"<=", GateOp::kLe}, {"==", GateOp::kEq},
                               {"!=", GateOp::kNe}, {">", GateOp::kGt},  {"<", GateOp::kLt}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsMetricChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::string FormatNumber(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

bool Compare(double value, GateOp op, double threshold) {
  switch (op) {
    case GateOp::kGe:
      return value >= threshold;
    case GateOp::kGt:
      return value > threshold;
    case GateOp::kLe:
      return value <= threshold;
    case GateOp::kLt:
      return value < threshold;
    case GateOp::kEq:
      return value == threshold;
    case GateOp::kNe:
      return value != threshold;
  }
  return false;
}

Status BadExpression(std::string_view expression, std::string_view why) {
  return InvalidArgument("invalid gate '" + std::string(expression) + "': " + std::string(why));
}

}  // namespace

const std::vector<std::string>& KnownMetrics() {
  static const std::vector<std::string> kMetrics = {"model_bytes",
                                                    "baseline_bytes",
                                                    "pp_tps_mean",
                                                    "pp_tps_stddev",
                                                    "tg_tps_mean",
                                                    "tg_tps_stddev",
                                                    "baseline_pp_tps_mean",
                                                    "baseline_tg_tps_mean",
                                                    "latency_p50_ms",
                                                    "latency_p95_ms",
                                                    "latency_p99_ms",
                                                    "latency_cv",
                                                    "peak_rss_bytes",
                                                    "ppl",
                                                    "baseline_ppl",
                                                    "ppl_ratio",
                                                    "kld_mean",
                                                    "kld_p99",
                                                    "top1_agreement",
                                                    "accuracy_retention",
                                                    "speedup",
                                                    "memory_reduction",
                                                    "energy_joules",
                                                    "energy_per_token_j"};
  return kMetrics;
}

std::vector<Gate> DefaultGates() {
  return GatesSpec{}.gates;
}

std::string_view GateOpSymbol(GateOp op) {
  for (const OpSpelling& spelling : kOps) {
    if (spelling.op == op) return spelling.symbol;
  }
  return "?";
}

std::string FormatGate(const Gate& gate) {
  return gate.metric + " " + std::string(GateOpSymbol(gate.op)) + " " +
         FormatNumber(gate.threshold);
}

Result<Gate> ParseGateExpression(std::string_view expression) {
  const std::string_view text = Trim(expression);
  size_t end = 0;
  while (end < text.size() && IsMetricChar(text[end])) ++end;
  if (end == 0) return BadExpression(expression, "expected METRIC OP NUMBER, e.g. 'speedup >= 2'");
  Gate gate;
  gate.metric = std::string(text.substr(0, end));
  std::string_view rest = Trim(text.substr(end));
  const OpSpelling* found = nullptr;
  for (const OpSpelling& spelling : kOps) {
    if (rest.substr(0, spelling.symbol.size()) == spelling.symbol) {
      found = &spelling;
      break;
    }
  }
  if (found == nullptr) {
    return BadExpression(expression,
                         "expected one of >=, >, <=, <, ==, != after '" + gate.metric + "'");
  }
  gate.op = found->op;
  rest = Trim(rest.substr(found->symbol.size()));
  // strtod needs a terminated string; the rest of an expression is short.
  const std::string number(rest);
  char* parse_end = nullptr;
  const double value = number.empty() ? 0.0 : std::strtod(number.c_str(), &parse_end);
  if (number.empty() || parse_end != number.c_str() + number.size()) {
    return BadExpression(expression, "expected a number after '" + std::string(found->symbol) +
                                         "', got '" + number + "'");
  }
  if (!std::isfinite(value)) return BadExpression(expression, "the threshold must be finite");
  if (value < 0) {
    return BadExpression(expression, "the threshold must not be negative, got " + number);
  }
  gate.threshold = value;
  const auto& known = KnownMetrics();
  if (std::find(known.begin(), known.end(), gate.metric) == known.end()) {
    return InvalidArgument("unknown metric '" + gate.metric + "' in gate '" + std::string(text) +
                           "'" + internal::DidYouMean(gate.metric, known));
  }
  return gate;
}

std::vector<Gate> EffectiveGates(const GatesSpec& spec, std::string_view target) {
  auto it = spec.overrides.find(std::string(target));
  if (it == spec.overrides.end()) return spec.gates;
  const std::vector<Gate>& overrides = it->second;
  std::vector<Gate> out;
  for (const Gate& gate : spec.gates) {
    const bool replaced = std::any_of(overrides.begin(), overrides.end(),
                                      [&](const Gate& o) { return o.metric == gate.metric; });
    if (!replaced) out.push_back(gate);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

std::vector<GateVerdict> EvaluateGates(const GatesSpec& spec, std::string_view target,
                                       const std::map<std::string, double>& metrics) {
  std::vector<GateVerdict> verdicts;
  for (const Gate& gate : EffectiveGates(spec, target)) {
    GateVerdict verdict{gate.metric, std::nullopt, gate.op, gate.threshold, false, false, ""};
    auto it = metrics.find(gate.metric);
    if (it == metrics.end() || std::isnan(it->second)) {
      verdict.passed = spec.no_data != NoDataPolicy::kFail;
      verdict.skipped = spec.no_data == NoDataPolicy::kSkip;
      verdict.reason = spec.no_data == NoDataPolicy::kFail   ? "metric not reported (no_data: fail)"
                       : spec.no_data == NoDataPolicy::kPass ? "metric not reported (no_data: pass)"
                                                             : "metric not reported (skipped)";
    } else {
      verdict.value = it->second;
      verdict.passed = Compare(it->second, gate.op, gate.threshold);
      verdict.reason = FormatNumber(it->second) + (verdict.passed ? " " : " fails ") +
                       std::string(GateOpSymbol(gate.op)) + " " + FormatNumber(gate.threshold);
    }
    verdicts.push_back(std::move(verdict));
  }
  return verdicts;
}

Result<std::map<std::string, double>> MetricsFromResultJson(std::string_view result_json) {
  const nlohmann::json doc =
      nlohmann::json::parse(result_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgument("the engine result is not a JSON object");
  }
  std::map<std::string, double> metrics;
  auto it = doc.find("metrics");
  if (it == doc.end() || !it->is_object()) return metrics;
  for (const auto& [name, value] : it->items()) {
    if (value.is_number()) metrics[name] = value.get<double>();
  }
  return metrics;
}

bool AllGatesPassed(const std::vector<GateVerdict>& verdicts) {
  return std::all_of(verdicts.begin(), verdicts.end(),
                     [](const GateVerdict& v) { return v.passed; });
}

std::optional<double> AccuracyFloor(const GatesSpec& spec, std::string_view target) {
  std::optional<double> floor;
  for (const Gate& gate : EffectiveGates(spec, target)) {
    if (gate.metric != "accuracy_retention") continue;
    if (gate.op != GateOp::kGe && gate.op != GateOp::kGt) continue;
    floor = floor ? std::max(*floor, gate.threshold) : gate.threshold;
  }
  return floor;
}

}  // namespace edgefarm::pipelines
