// Quality gates: parsing `metric op threshold` expressions and judging a cell's metrics.
//
// Gate structs live in pipeline.h (GatesSpec is part of Pipeline). Everything here is a pure
// function of its arguments; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::pipelines {

// Metric names a gate may test: those of the engine result record (docs/formats.md).
const std::vector<std::string>& KnownMetrics();

// The seed defaults: accuracy_retention >= 0.95, speedup >= 2.0, memory_reduction >= 0.5,
// latency_cv <= 0.2.
std::vector<Gate> DefaultGates();

// "accuracy_retention >= 0.95" → Gate. InvalidArgument (message without a location) for a
// malformed expression, an unknown metric (with a suggestion), or a negative or non-finite
// threshold.
Result<Gate> ParseGateExpression(std::string_view expression);

std::string_view GateOpSymbol(GateOp op);
// "accuracy_retention >= 0.95"
std::string FormatGate(const Gate& gate);

// The gates that apply to `target`: the defaults, with a target override replacing the default
// gate on the same metric, plus override gates on other metrics.
std::vector<Gate> EffectiveGates(const GatesSpec& spec, std::string_view target);

struct GateVerdict {
  std::string metric;
  std::optional<double> value;  // nullopt: the cell did not report the metric
  GateOp op = GateOp::kGe;
  double threshold = 0.0;
  bool passed = false;
  bool skipped = false;  // missing metric under no_data: skip (passed is true too)
  std::string reason;    // "0.97 >= 0.95", "1.4 < 2 (needs >= 2)", "metric not reported"
};

// One verdict per effective gate, in gate order. A missing (or NaN) metric follows
// spec.no_data: fail → failed; pass → passed; skip → passed and skipped.
std::vector<GateVerdict> EvaluateGates(const GatesSpec& spec, std::string_view target,
                                       const std::map<std::string, double>& metrics);

// The numeric "metrics" of an engine result record (docs/formats.md) as a map; non-numeric
// entries are left out. InvalidArgument when the text is not a JSON object (no exception escapes).
Result<std::map<std::string, double>> MetricsFromResultJson(std::string_view result_json);

// True when every verdict passed (skipped verdicts count as passed).
bool AllGatesPassed(const std::vector<GateVerdict>& verdicts);

// The threshold of the `accuracy_retention >=` (or `>`) gate for `target`, if there is one; used
// as the olive search's default min_accuracy_retention.
std::optional<double> AccuracyFloor(const GatesSpec& spec, std::string_view target);

}  // namespace edgefarm::pipelines
