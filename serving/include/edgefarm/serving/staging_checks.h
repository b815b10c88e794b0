// Staging checks for a candidate artifact: security, integration and load, each a recorded
// measurement with its limits and a verdict. `edgefarm-engine stage-check JOB.json --out DIR` is
// a thin wrapper over ParseStageJob + RunStageChecks + WriteStageResult.
//
// JOB.json (schema "edgefarm.stage/v1"):
//   {"schema": "edgefarm.stage/v1", "model": "/abs/model.gguf",
//    "expected_digest": "<sha256>", "signature": "<hex ed25519 over the digest>",
//    "public_key": "<hex>",
//    "integration": {"requests": N, "max_tokens": M},
//    "load": {"concurrency": C, "requests": R | "duration_s": D, "max_tokens": M?,
//             "max_error_rate": x?, "max_p95_ms": y?, "min_throughput_rps": z?},
//    "security": {"max_bytes": B}}
// Unknown keys are rejected (a misspelt limit must not silently become "no limit"). An optional
// "inputs": {"model": "/local/path"} (what a worker adds for the files it fetched) overrides
// "model", which may then be omitted.
//
// Checks, in order: security.size, security.digest, security.signature, security.gguf (each
// always runs); then, only when every security check passed, the model is served in-process on
// 127.0.0.1 port 0 and integration and load run against it. A check that could not run is
// recorded as failed with reason "skipped: ...". The stage passes only when every check passed.
//
// Thread-safety: RunStageChecks blocks; it may run concurrently with other calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/serving/fault_schedule.h"

namespace spdlog {
class logger;
}

namespace edgefarm::serving {

struct StageJob {
  std::filesystem::path model;
  std::string expected_digest;
  std::string signature;
  std::string public_key;
  int integration_requests = 3;
  int integration_max_tokens = 16;
  int load_concurrency = 2;
  int64_t load_requests = 0;
  double load_duration_s = 0;
  int load_max_tokens = 8;
  std::optional<double> max_error_rate;
  std::optional<double> max_p95_ms;
  std::optional<double> min_throughput_rps;
  uint64_t max_bytes = 0;  // required, > 0
};

// Errors: InvalidArgument naming the key for malformed JSON, a wrong schema, missing or mistyped
// fields, unknown keys, or values out of range.
Result<StageJob> ParseStageJob(const std::string& json_text);
Result<StageJob> LoadStageJob(const std::filesystem::path& path);

struct StageOptions {
  int http_threads = 4;  // of the in-process server
  int engine_threads = 1;
  FaultOptions fault;  // injected into the in-process server (rehearsals and tests)
};

struct CheckResult {
  std::string name;
  bool passed = false;
  nlohmann::json measurements = nlohmann::json::object();
  nlohmann::json limits = nlohmann::json::object();
  std::string reason;  // empty when passed
};

struct StageReport {
  bool passed = false;
  std::vector<CheckResult> checks;
  const CheckResult* Find(std::string_view name) const;
  // {"schema":"edgefarm.stage-result/v1","passed":..,"checks":[{"name","passed",
  //  "measurements","limits","reason"}]}
  nlohmann::json ToJson() const;
};

// Runs every check. Returns a report even when checks fail; an error Status only when the checks
// themselves cannot be run (e.g. no free port to serve on).
Result<StageReport> RunStageChecks(const StageJob& job, const StageOptions& options,
                                   std::shared_ptr<spdlog::logger> logger);

// Writes DIR/stage-result.json (atomically), creating DIR. Errors: IoError.
Status WriteStageResult(const StageReport& report, const std::filesystem::path& dir);

}  // namespace edgefarm::serving
