// The client verbs of `edgefarm` over the coordinator's HTTP API:
//
//   edgefarm run FILE [--wait] [--json]
//   edgefarm status [RUN] [--json]
//   edgefarm workers [--json]
//   edgefarm logs JOB [-f]
//   edgefarm cancel RUN|JOB [--json]
//
// each also taking [--server URL] [--token-file F] [--data DIR] (see ResolveServer). Exit codes
// (docs/cli.md): 0 success; 1 the run failed or was cancelled (run --wait); 2 usage error or a
// request the server refused as invalid (bad pipeline, missing file); 3 server unreachable or
// credentials refused; 4 not found.
//
// Thread-safety: each call is independent; output goes only to the given streams.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/cli/status_printer.h"
#include "edgefarm/common/status.h"
#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::cli {

// Reads and validates the pipeline file locally, uploads every file it references (paths
// relative to the pipeline file's directory) and submits the run. Returns the run id.
Result<std::string> SubmitPipeline(ApiClient& client, const std::filesystem::path& pipeline_file,
                                   StatusPrinter* printer);

// Loads a pipeline file with pipelines::LoadPipeline (errors carry file:line:col).
Result<pipelines::Pipeline> LoadPipelineFile(const std::filesystem::path& pipeline_file);

// Polls the run until it reaches a final state, reporting job changes to `printer`. `pause` waits
// between polls and returns false to stop watching early (then Cancelled is returned).
Result<nlohmann::json> WatchRun(ApiClient& client, const std::string& run_id,
                                StatusPrinter& printer,
                                const std::function<bool(std::chrono::milliseconds)>& pause);

// Worker id -> name from the server (empty when it cannot be fetched).
std::map<std::string, std::string> FetchWorkerNames(ApiClient& client);

// Maps an API or local error to the documented exit code.
int ExitCodeFor(const Status& status);

// Dispatches one of the verbs above; argv[0] is the verb.
int RunClientCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace edgefarm::cli
