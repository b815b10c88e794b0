// Text and conversion helpers for showing gate verdicts and the Pareto choice of a run, from the
// API's run JSON (GET /api/v1/runs/{id}), so `edgefarm up` and `edgefarm status` can print them.
//
// Pure functions over values; thread-safe; never throw (malformed JSON yields fewer jobs).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/coordinator/gate_verdicts.h"
#include "edgefarm/coordinator/pareto.h"
#include "edgefarm/coordinator/records.h"

namespace edgefarm::coordinator {

// The run's engine jobs as JobRecords: id, name, framework, target, state and result_json (the
// "result" object re-serialised). Jobs with an unknown state are left out.
std::vector<JobRecord> EngineJobsFromRunJson(const nlohmann::json& run);

// "Pareto choice per target:" then per target the recommended cell, why, and what it beat.
std::string FormatChoiceReport(const std::map<std::string, Recommendation>& recommendations);

}  // namespace edgefarm::coordinator
