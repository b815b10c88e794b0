// The matrix table `edgefarm up` and `edgefarm status RUN` print: one row per job with its
// worker, state, model size, token-generation and prompt-processing speed, accuracy retention and
// gate verdict. Pure functions over the API's run JSON; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::cli {

struct MatrixRow {
  std::string cell;
  std::string worker;
  std::string state;
  std::string model_size;  // "1.1 MiB" or "-"
  std::string tg_tps;      // token generation tokens/s
  std::string pp_tps;      // prompt processing tokens/s
  std::string retention;   // accuracy retention, "0.987"
  std::string verdict;     // "pass", "FAIL: speedup 1.2 < 2", "-" (no gates / not an engine cell)
};

// `gates` null: no verdicts (the column says "n/a"). `worker_names` (id -> name) makes the
// worker column readable; unknown ids are shown as they are.
std::vector<MatrixRow> BuildMatrixRows(const nlohmann::json& run, const pipelines::GatesSpec* gates,
                                       const std::map<std::string, std::string>& worker_names = {});

// Left-aligned columns separated by two spaces, a header and a rule.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);
std::string FormatMatrixTable(const std::vector<MatrixRow>& rows);

// "512 B", "1.1 KiB", "3.4 MiB", "2.0 GiB".
std::string HumanBytes(double bytes);

}  // namespace edgefarm::cli
