// Gate verdicts for a run's engine cells: each finished cell judged against the pipeline's gates.
//
// Only cells whose job succeeded are judged. A cell that failed, was cancelled or is still
// running is "not_judged" with the reason: infrastructure failures are the scheduler's to retry
// (RetryPolicy::infra), never a gate verdict. A succeeded cell without a readable result record
// is judged under the no-data policy like any missing metric (fail by default).
//
// Pure functions over values; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/coordinator/records.h"
#include "edgefarm/pipelines/gates.h"

namespace edgefarm::coordinator {

enum class CellOutcome { kPassed, kFailed, kNotJudged };
std::string_view ToString(CellOutcome outcome);  // "passed" | "failed" | "not_judged"

struct CellVerdict {
  std::string job_id;
  std::string job_name;
  std::string framework;
  std::string target;
  std::string scheme;  // from the result record; empty when unknown
  CellOutcome outcome = CellOutcome::kNotJudged;
  std::string reason;  // one line: the failed gates, or why the cell was not judged
  std::vector<pipelines::GateVerdict> gates;
  std::map<std::string, double> metrics;
};

// One verdict per engine job (command jobs are left out), in the given order.
std::vector<CellVerdict> JudgeCells(const pipelines::GatesSpec& gates,
                                    const std::vector<const JobRecord*>& jobs);

// {"job_id","job_name","framework","target","scheme","outcome","reason","metrics":{..},
//  "gates":[{"metric","value"|null,"op","threshold","passed","skipped","reason"}]}
nlohmann::json CellVerdictJson(const CellVerdict& cell);

}  // namespace edgefarm::coordinator
