// The promotion verbs of `edgefarm` over the coordinator's HTTP API (docs/cli.md):
//
//   edgefarm approve RUN [--comment C]     edgefarm reject RUN [--comment C]
//   edgefarm rollback ENV [--reason R]     edgefarm continue ENV
//   edgefarm history ENV [--json]          edgefarm environments [--json]
//
// each also taking [--server URL] [--token-file F] [--data DIR] (ResolveServer). approve, reject,
// rollback and continue need a release-manager (or admin) token; the run's submitter cannot
// approve or reject it. Exit codes as the client verbs (client_commands.h).
//
// Thread-safety: each call is independent; output goes only to the given streams.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/cli/status_printer.h"
#include "edgefarm/common/status.h"

namespace edgefarm::cli {

// A run's promotion (GET /api/v1/runs/{id}/promotion) as text: gate verdicts with reasons, the
// Pareto choice per target with why and what it beat, the staging checks with measurements and
// limits, and each environment's promotion (phase, ramp step, what to do next).
std::string FormatPromotionReport(const nlohmann::json& promotion);

// One promotion state (the "promotion" object of a target) as one line.
std::string FormatPromotionLine(const nlohmann::json& promotion);

// A ledger (GET /api/v1/environments/{env}/history) as one line per entry.
std::string FormatHistory(const nlohmann::json& history);

// Waits between polls; false stops waiting (then Cancelled is returned).
using Pause = std::function<bool(std::chrono::milliseconds)>;

// Polls GET /runs/{id}/promotion until no target is still being evaluated or staged; returns the
// last answer.
Result<nlohmann::json> WaitForStaging(ApiClient& client, const std::string& run_id,
                                      const Pause& pause);

// True when some target of the run has a promotion awaiting approval.
bool AwaitsApproval(const nlohmann::json& promotion);

// A release-manager token for approving in the embedded farm: DATA/release-manager.token (mode
// 0600, created exclusively through POST /api/v1/tokens with the admin client; reused when it
// exists). Returns its path; the token itself is never printed.
Result<std::filesystem::path> EnsureReleaseManagerToken(ApiClient& admin,
                                                        const std::filesystem::path& data_dir);

// Follows the run's promotions until every one has ended, printing each phase or step change.
// While a promotion starts, is analysed or ramps, sends a little synthetic traffic through the
// environment's router (a demo farm has no users), so each step's analysis has requests to judge.
// Returns the final answer of GET /runs/{id}/promotion.
Result<nlohmann::json> FollowPromotions(ApiClient& client, const std::string& run_id,
                                        StatusPrinter& printer, const Pause& pause);

// Dispatches one of the verbs above; argv[0] is the verb.
int RunPromotionCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace edgefarm::cli
