// Approval rules: role checks, self-approval refused, one decision per person, count, timeout.
#include "edgefarm/coordinator/approval.h"

#include <gtest/gtest.h>

namespace edgefarm::coordinator {
namespace {

pipelines::ApprovalSpec Spec(int count = 1, std::string on_timeout = "reject") {
  pipelines::ApprovalSpec spec;
  spec.required = true;
  spec.role = "release-manager";
  spec.count = count;
  spec.timeout_seconds = 600;
  spec.on_timeout = std::move(on_timeout);
  return spec;
}

ApprovalDecision By(std::string user, std::string role, bool approve = true) {
  return {std::move(user), std::move(role), approve, "", 0};
}

TEST(Approval, TriggererCannotApproveEvenWithTheRole) {
  Status s = CheckDecision(Spec(), "alice", {}, By("alice", "release-manager"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("triggered"), std::string::npos);
}

// A pushed run is triggered by "git:<author email>"; a token named by that email is the author.
TEST(Approval, ThePusherCannotApproveThroughATokenNamedByTheirEmail) {
  const std::string pusher = "git:Ada@Example.com";
  EXPECT_EQ(CheckDecision(Spec(), pusher, {}, By("ada@example.com:t1", "release-manager")).code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckDecision(Spec(), pusher, {}, By("bob@example.com:t2", "release-manager")).ok());
  // Two tokens with one name are one person.
  EXPECT_EQ(CheckDecision(Spec(), "alice:t1", {}, By("alice:t2", "release-manager")).code(),
            StatusCode::kPermissionDenied);
}

TEST(Approval, RoleIsChecked) {
  EXPECT_EQ(CheckDecision(Spec(), "alice", {}, By("bob", "developer")).code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckDecision(Spec(), "alice", {}, By("bob", "release-manager")).ok());
  EXPECT_TRUE(CheckDecision(Spec(), "alice", {}, By("root", "admin")).ok());
}

TEST(Approval, OneDecisionPerPerson) {
  std::vector<ApprovalDecision> existing = {By("bob", "release-manager")};
  EXPECT_EQ(CheckDecision(Spec(2), "alice", existing, By("bob", "release-manager")).code(),
            StatusCode::kAlreadyExists);
}

TEST(Approval, CountRejectionAndTimeout) {
  const int64_t t0 = 1'000'000;
  auto spec = Spec(2);
  std::vector<ApprovalDecision> one = {By("bob", "release-manager")};
  EXPECT_EQ(EvaluateApproval(spec, one, t0, t0 + 1).state, ApprovalState::kPending);
  auto two = one;
  two.push_back(By("carol", "release-manager"));
  EXPECT_EQ(EvaluateApproval(spec, two, t0, t0 + 1).state, ApprovalState::kApproved);
  auto vetoed = two;
  vetoed.push_back(By("dave", "release-manager", false));
  auto out = EvaluateApproval(spec, vetoed, t0, t0 + 1);
  EXPECT_EQ(out.state, ApprovalState::kRejected);
  EXPECT_NE(out.reason.find("dave"), std::string::npos);

  auto timed_out = EvaluateApproval(spec, one, t0, t0 + 600'000);
  EXPECT_EQ(timed_out.state, ApprovalState::kRejected);
  EXPECT_NE(timed_out.reason.find("timed out"), std::string::npos);
  EXPECT_EQ(EvaluateApproval(Spec(2, "approve"), one, t0, t0 + 600'000).state,
            ApprovalState::kApproved);
}

TEST(Approval, NotRequired) {
  pipelines::ApprovalSpec spec;
  EXPECT_EQ(EvaluateApproval(spec, {}, 0, 0).state, ApprovalState::kNotRequired);
  EXPECT_EQ(CheckDecision(spec, "a", {}, By("b", "admin")).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgefarm::coordinator
