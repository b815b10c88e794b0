// Approval of a promotion: one approval per promotion (covering every cell of the run), by
// people holding the pipeline's `approval.role`, never by the run's triggerer, with a timeout
// that follows `approval.on_timeout`.
//
// Pure functions over values; thread-safe. The decisions themselves are stored by the caller
// (in the promotion record and the ledger) before they take effect.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::coordinator {

struct ApprovalDecision {
  std::string user;  // the identity behind the token (never the token)
  std::string role;  // the role the token holds: "release-manager", "admin", ...
  bool approve = true;
  std::string comment;
  int64_t at_ms = 0;
};

enum class ApprovalState { kNotRequired, kPending, kApproved, kRejected };
std::string_view ToString(ApprovalState state);  // "not_required" | "pending" | ...

struct ApprovalOutcome {
  ApprovalState state = ApprovalState::kPending;
  std::string
      reason;  // "2 of 2 approvals", "rejected by bob: ...", "timed out (on_timeout: reject)"
};

// Whether `decision` may be recorded. PermissionDenied when the decider is the run's triggerer
// (a token of the same name, or for a pushed run "git:<email>" a token named <email>) or holds
// neither spec.role nor "admin"; AlreadyExists when the user already decided; FailedPrecondition
// when approval is not required.
Status CheckDecision(const pipelines::ApprovalSpec& spec, std::string_view triggered_by,
                     const std::vector<ApprovalDecision>& existing,
                     const ApprovalDecision& decision);

// Where the approval stands at now_ms for a promotion that asked for approval at requested_at_ms.
// Any rejection wins; then `count` approvals; then the timeout with its policy.
ApprovalOutcome EvaluateApproval(const pipelines::ApprovalSpec& spec,
                                 const std::vector<ApprovalDecision>& decisions,
                                 int64_t requested_at_ms, int64_t now_ms);

}  // namespace edgefarm::coordinator
