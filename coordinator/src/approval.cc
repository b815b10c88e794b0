// Approval rules. Rejection wins over approvals so that one "no" from an authorised person
// cannot be outvoted by a race of "yes"es (Spinnaker's manual judgment behaves the same).
#include "edgefarm/coordinator/approval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace edgefarm::coordinator {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

// Users are "<token name>:<token id>": two tokens with one name are one person. A pushed run's
// triggerer is "git:<author email>", the same person as a token named by that email (a token
// cannot prove a git identity otherwise).
bool SamePerson(std::string_view triggered_by, std::string_view user) {
  const std::string_view name = user.substr(0, user.rfind(':'));
  constexpr std::string_view kGit = "git:";
  if (triggered_by.substr(0, kGit.size()) == kGit) {
    return EqualsIgnoringCase(name, triggered_by.substr(kGit.size()));
  }
  return user == triggered_by || name == triggered_by.substr(0, triggered_by.rfind(':'));
}

}  // namespace

std::string_view ToString(ApprovalState state) {
  switch (state) {
    case ApprovalState::kNotRequired:
      return "not_required";
    case ApprovalState::kPending:
      return "pending";
    case ApprovalState::kApproved:
      return "approved";
    case ApprovalState::kRejected:
      return "rejected";
  }
  return "pending";
}

Status CheckDecision(const pipelines::ApprovalSpec& spec, std::string_view triggered_by,
                     const std::vector<ApprovalDecision>& existing,
                     const ApprovalDecision& decision) {
  if (!spec.required) return FailedPrecondition("this promotion does not require approval");
  if (decision.user.empty()) return PermissionDenied("an anonymous decision cannot be recorded");
  if (SamePerson(triggered_by, decision.user)) {
    return PermissionDenied("the person who triggered the run cannot approve or reject it");
  }
  if (decision.role != spec.role && decision.role != "admin") {
    return PermissionDenied(
        fmt::format("approving needs the '{}' role (you have '{}')", spec.role, decision.role));
  }
  for (const auto& d : existing) {
    if (d.user == decision.user) {
      return AlreadyExists(decision.user + " already " + (d.approve ? "approved" : "rejected"));
    }
  }
  return Status::Ok();
}

ApprovalOutcome EvaluateApproval(const pipelines::ApprovalSpec& spec,
                                 const std::vector<ApprovalDecision>& decisions,
                                 int64_t requested_at_ms, int64_t now_ms) {
  if (!spec.required) return {ApprovalState::kNotRequired, "approval not required"};
  int approvals = 0;
  for (const auto& d : decisions) {
    if (!d.approve) {
      std::string why = "rejected by " + d.user;
      if (!d.comment.empty()) why += ": " + d.comment;
      return {ApprovalState::kRejected, why};
    }
    ++approvals;
  }
  const int needed = spec.count < 1 ? 1 : spec.count;
  if (approvals >= needed) {
    return {ApprovalState::kApproved, fmt::format("{} of {} approvals", approvals, needed)};
  }
  if (now_ms >= requested_at_ms + int64_t{spec.timeout_seconds} * 1000) {
    bool approve = spec.on_timeout == "approve";
    return {approve ? ApprovalState::kApproved : ApprovalState::kRejected,
            fmt::format("timed out after {}s with {} of {} approvals (on_timeout: {})",
                        spec.timeout_seconds, approvals, needed, spec.on_timeout)};
  }
  return {ApprovalState::kPending, fmt::format("{} of {} approvals", approvals, needed)};
}

}  // namespace edgefarm::coordinator
