// The promotion state machine. Implementation notes:
// - Transition() is the only writer of state_.phase: it commits the new state with its ledger
//   entries and only then runs Enter(), the phase's idempotent actions. If the commit fails the
//   in-memory state is restored, so memory never runs ahead of the disk.
// - A failed action leaves acted_ false; Advance() retries it until the phase's deadline, and a
//   deadline passed in any phase rolls back (the approval phase follows its own timeout policy).
// - The live slot's statistics are never reset during a ramp: its recent traffic is the
//   baseline, which also lets the 100 % step (no live traffic any more) be compared. The
//   candidate's statistics are reset at every step entry, so each step is judged on its own.
#include "edgefarm/coordinator/promotion_machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace edgefarm::coordinator {
namespace {

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out.empty() ? "pass" : out;
}

}  // namespace

PromotionMachine::PromotionMachine(PromotionConfig config, PromotionLedger* ledger,
                                   SlotControl* slots, const Clock* clock,
                                   std::shared_ptr<spdlog::logger> logger)
    : config_(std::move(config)),
      ledger_(ledger),
      slots_(slots),
      clock_(clock),
      logger_(std::move(logger)) {
  if (config_.spec.traffic.empty()) config_.spec.traffic.push_back({100, 0});
}

serving::Slot PromotionMachine::CandidateSlot() const {
  auto slot = serving::ParseSlot(state_.candidate_slot);
  return slot.ok() ? *slot : serving::Slot::kGreen;
}

serving::Slot PromotionMachine::StableSlot() const {
  return serving::OtherSlot(CandidateSlot());
}

LedgerEntry PromotionMachine::Entry(const std::string& kind, const std::string& slot,
                                    const std::string& version, const std::string& actor,
                                    const std::string& detail) const {
  LedgerEntry e;
  e.at_ms = Now();
  e.environment = state_.environment;
  e.promotion_id = state_.id;
  e.kind = kind;
  e.slot = slot;
  e.version = version;
  e.actor = actor;
  e.detail = detail;
  return e;
}

Status PromotionMachine::Transition(PromotionPhase phase, const std::string& reason,
                                    std::vector<LedgerEntry> entries, const std::string& actor) {
  const PromotionState before = state_;
  state_.phase = phase;
  state_.phase_entered_ms = Now();
  state_.reason = reason;
  switch (phase) {
    case PromotionPhase::kAwaitingApproval:
      state_.deadline_ms =
          state_.created_at_ms + int64_t{config_.spec.approval.timeout_seconds} * 1000;
      break;
    case PromotionPhase::kStarting:
    case PromotionPhase::kPreAnalysis:
      state_.deadline_ms = Now() + config_.start_timeout_ms;
      break;
    case PromotionPhase::kRamping:
      state_.deadline_ms = state_.hold_until_ms + config_.analysis_grace_ms;
      break;
    case PromotionPhase::kPaused:
      state_.deadline_ms = Now() + config_.pause_timeout_ms;
      break;
    case PromotionPhase::kScaleDown:
      state_.deadline_ms = Now() + config_.scale_down_delay_ms;
      break;
    default:
      state_.deadline_ms = 0;
  }
  entries.push_back(Entry("state", "", state_.candidate_version, actor,
                          Dump({{"phase", ToString(phase)},
                                {"reason", reason},
                                {"step", state_.step},
                                {"failures", state_.failures},
                                {"deadline_ms", state_.deadline_ms}})));
  PromotionRow row{state_.id, state_.environment, PromotionStateToJson(state_),
                   state_.created_at_ms, Now()};
  Status committed = ledger_->Commit(row, entries);
  if (!committed.ok()) {
    state_ = before;
    return committed;
  }
  logger_->info("promotion {} ({}): {} - {}", state_.id, state_.environment, ToString(phase),
                reason);
  acted_ = false;
  Status acted = Enter();
  acted_ = acted.ok();
  if (!acted.ok()) {
    logger_->warn("promotion {}: {} action failed (retried): {}", state_.id, ToString(phase),
                  acted.ToString());
  }
  return Status::Ok();
}

Status PromotionMachine::Enter() {
  const serving::Slot cand = CandidateSlot();
  const serving::Slot stable = StableSlot();
  const bool has_stable = !state_.stable_version.empty();
  switch (state_.phase) {
    case PromotionPhase::kStarting:
      // Idempotent: Ok when the stable version already serves (always, except for a seeded
      // baseline, and a stable server that died since is brought back before it is needed).
      if (has_stable) EF_RETURN_IF_ERROR(slots_->StartSlot(stable, state_.stable_version));
      if (has_stable) EF_RETURN_IF_ERROR(slots_->Route(stable, 0));
      return slots_->StartSlot(cand, state_.candidate_version);
    case PromotionPhase::kRamping:
      slots_->ResetStats(cand);
      return slots_->Route(stable, config_.spec.traffic[static_cast<size_t>(state_.step)].weight);
    case PromotionPhase::kScaleDown:
      return slots_->Route(cand, 0);
    case PromotionPhase::kSucceeded:
      return has_stable ? slots_->StopSlot(stable) : Status::Ok();
    case PromotionPhase::kRolledBack:
      if (has_stable) EF_RETURN_IF_ERROR(slots_->Route(stable, 0));
      return slots_->StopSlot(cand);
    default:
      return Status::Ok();
  }
}

Status PromotionMachine::Begin(PromotionState state) {
  if (state.id.empty() || state.environment.empty() || state.candidate_version.empty()) {
    return InvalidArgument("a promotion needs an id, an environment and a candidate version");
  }
  auto stable = serving::ParseSlot(state.stable_slot.empty() ? "blue" : state.stable_slot);
  if (!stable.ok()) return stable.status();
  state.stable_slot = std::string(serving::SlotName(*stable));
  state.candidate_slot = std::string(serving::SlotName(serving::OtherSlot(*stable)));
  state.created_at_ms = Now();
  state.step = 0;
  state.failures = 0;
  state.decisions.clear();
  state_ = std::move(state);
  std::vector<LedgerEntry> entries = {Entry("promotion.requested", state_.candidate_slot,
                                            state_.candidate_version, state_.triggered_by,
                                            state_.evidence.empty() ? "{}" : state_.evidence)};
  if (state_.stable_is_baseline) {
    entries.push_back(Entry("baseline", state_.stable_slot, state_.stable_version, "coordinator",
                            Dump({{"reason",
                                   "first promotion of the environment: the run's unoptimised "
                                   "model serves as the stable version the candidate ramps "
                                   "against and rolls back to"}})));
  }
  if (config_.spec.approval.required) {
    return Transition(PromotionPhase::kAwaitingApproval, "waiting for approval",
                      std::move(entries));
  }
  return Transition(PromotionPhase::kStarting, "approval not required", std::move(entries));
}

Status PromotionMachine::Resume(PromotionState state) {
  if (state.step < 0 || state.step >= static_cast<int>(config_.spec.traffic.size())) {
    return InvalidArgument(
        fmt::format("promotion {}: stored step {} is outside the {} traffic steps", state.id,
                    state.step, config_.spec.traffic.size()));
  }
  state_ = std::move(state);
  if (IsTerminal(state_.phase)) {
    acted_ = true;
    return Status::Ok();
  }
  if (state_.phase == PromotionPhase::kRamping) {
    return StartStep(state_.step, "resumed after a restart: the step's hold starts again", {});
  }
  std::vector<LedgerEntry> entries = {Entry("resumed", "", state_.candidate_version, "coordinator",
                                            Dump({{"phase", ToString(state_.phase)}}))};
  PromotionRow row{state_.id, state_.environment, PromotionStateToJson(state_),
                   state_.created_at_ms, Now()};
  EF_RETURN_IF_ERROR(ledger_->Commit(row, entries));
  Status acted = Enter();
  acted_ = acted.ok();
  return Status::Ok();
}

Status PromotionMachine::StartStep(int step, const std::string& reason,
                                   std::vector<LedgerEntry> entries) {
  state_.step = step;
  const TrafficStepView view = Step(step);
  state_.hold_until_ms = Now() + int64_t{view.hold_seconds} * 1000;
  entries.push_back(
      Entry("ramp", state_.candidate_slot, state_.candidate_version, "coordinator",
            Dump({{"step", step}, {"weight", view.weight}, {"hold_seconds", view.hold_seconds}})));
  return Transition(PromotionPhase::kRamping, reason, std::move(entries));
}

PromotionMachine::TrafficStepView PromotionMachine::Step(int step) const {
  const auto& t = config_.spec.traffic[static_cast<size_t>(step)];
  return {t.weight, t.hold_seconds};
}

Status PromotionMachine::Advance() {
  if (!acted_) {
    Status acted = Enter();
    acted_ = acted.ok();
    if (!acted.ok() && !IsTerminal(state_.phase) && state_.deadline_ms > 0 &&
        Now() >= state_.deadline_ms) {
      return RollBackNow("coordinator", fmt::format("{} did not complete before its deadline: {}",
                                                    ToString(state_.phase), acted.message()));
    }
    if (!acted.ok()) return acted;
  }
  switch (state_.phase) {
    case PromotionPhase::kAwaitingApproval:
      return AdvanceApproval();
    case PromotionPhase::kStarting:
      return AdvanceStarting();
    case PromotionPhase::kPreAnalysis:
      return AdvancePreAnalysis();
    case PromotionPhase::kRamping:
      return AdvanceRamp();
    case PromotionPhase::kPaused:
      if (Now() >= state_.deadline_ms) {
        return RollBackNow("coordinator", "paused without a decision until the deadline");
      }
      return Status::Ok();
    case PromotionPhase::kScaleDown:
      return AdvanceScaleDown();
    default:
      return Status::Ok();
  }
}

Status PromotionMachine::AdvanceApproval() {
  ApprovalOutcome out =
      EvaluateApproval(config_.spec.approval, state_.decisions, state_.created_at_ms, Now());
  if (out.state == ApprovalState::kPending) return Status::Ok();
  const bool approved = out.state == ApprovalState::kApproved;
  std::vector<LedgerEntry> entries = {
      Entry("approval", "", state_.candidate_version, "coordinator",
            Dump({{"outcome", ToString(out.state)}, {"reason", out.reason}}))};
  return Transition(approved ? PromotionPhase::kStarting : PromotionPhase::kRejected, out.reason,
                    std::move(entries));
}

Status PromotionMachine::AdvanceStarting() {
  auto ready = slots_->SlotReady(CandidateSlot());
  bool stable_ready = true;
  if (!state_.stable_version.empty()) {
    auto stable = slots_->SlotReady(StableSlot());
    stable_ready = stable.ok() && *stable;
  }
  if (ready.ok() && *ready && stable_ready) {
    return Transition(PromotionPhase::kPreAnalysis, "candidate ready in " + state_.candidate_slot,
                      {});
  }
  if (Now() >= state_.deadline_ms) {
    return RollBackNow("coordinator", stable_ready
                                          ? "the candidate was not ready before the deadline"
                                          : "the stable version was not ready before the deadline");
  }
  return Status::Ok();
}

Status PromotionMachine::AdvancePreAnalysis() {
  Status check = slots_->PreCheck(CandidateSlot());
  std::vector<LedgerEntry> entries = {
      Entry("analysis", state_.candidate_slot, state_.candidate_version, "coordinator",
            Dump({{"stage", "pre_promotion"},
                  {"verdict", check.ok() ? "pass" : "fail"},
                  {"reasons", check.ok() ? nlohmann::json::array()
                                         : nlohmann::json::array({check.message()})}}))};
  if (!check.ok()) {
    return RollBackNow("coordinator", "pre-promotion analysis failed: " + check.message(),
                       std::move(entries));
  }
  if (state_.stable_version.empty()) {
    return Switch("first version of the environment: nothing to compare with", std::move(entries));
  }
  if (!state_.rollback_of.empty()) {
    return Switch("rolled back by hand from promotion " + state_.rollback_of +
                      " to the version live before it",
                  std::move(entries));
  }
  return StartStep(0, "pre-promotion analysis passed", std::move(entries));
}

Status PromotionMachine::Switch(const std::string& reason, std::vector<LedgerEntry> entries) {
  entries.push_back(Entry("live", state_.candidate_slot, state_.candidate_version, "coordinator",
                          Dump({{"reason", reason}})));
  return Transition(PromotionPhase::kScaleDown, reason, std::move(entries));
}

Status PromotionMachine::AdvanceRamp() {
  if (Now() < state_.hold_until_ms) return Status::Ok();
  const TrafficStepView view = Step(state_.step);
  serving::AnalysisResult result = serving::CompareSlots(
      slots_->Stats(CandidateSlot()), slots_->Stats(StableSlot()), config_.limits);
  nlohmann::json detail = nlohmann::json::parse(result.ToJson(), nullptr, false);
  if (!detail.is_object()) detail = nlohmann::json::object();
  detail["stage"] = "ramp";
  detail["step"] = state_.step;
  detail["weight"] = view.weight;
  std::vector<LedgerEntry> entries = {Entry("analysis", state_.candidate_slot,
                                            state_.candidate_version, "coordinator", Dump(detail))};
  const std::string reasons = JoinReasons(result.reasons);
  switch (result.verdict) {
    case serving::Verdict::kPass:
      if (state_.step + 1 < static_cast<int>(config_.spec.traffic.size())) {
        return StartStep(state_.step + 1,
                         fmt::format("step {} ({} %) passed", state_.step, view.weight),
                         std::move(entries));
      }
      return Switch(fmt::format("every ramp step passed; {} is live", state_.candidate_slot),
                    std::move(entries));
    case serving::Verdict::kFail: {
      ++state_.failures;
      const int limit = std::max(1, config_.spec.failure_limit);
      if (state_.failures >= limit) {
        return RollBackNow("coordinator",
                           fmt::format("analysis failed at step {} ({} %), {} of {} failures: {}",
                                       state_.step, view.weight, state_.failures, limit, reasons),
                           std::move(entries));
      }
      return StartStep(state_.step,
                       fmt::format("analysis failed ({} of {}): {}; holding the step again",
                                   state_.failures, limit, reasons),
                       std::move(entries));
    }
    case serving::Verdict::kInconclusive:
      return Transition(PromotionPhase::kPaused,
                        "inconclusive, waiting for a human (continue or rollback): " + reasons,
                        std::move(entries));
  }
  return Status::Ok();
}

Status PromotionMachine::AdvanceScaleDown() {
  if (Now() < state_.deadline_ms) return Status::Ok();
  std::vector<LedgerEntry> entries;
  if (!state_.stable_version.empty()) {
    entries.push_back(
        Entry("scaled_down", state_.stable_slot, state_.stable_version, "coordinator", "{}"));
  }
  return Transition(PromotionPhase::kSucceeded, "scale-down delay over", std::move(entries));
}

Status PromotionMachine::RollBackNow(const std::string& actor, const std::string& reason,
                                     std::vector<LedgerEntry> entries) {
  const bool was_live = state_.phase == PromotionPhase::kScaleDown;
  entries.push_back(Entry("rollback", state_.stable_slot, state_.stable_version, actor,
                          Dump({{"reason", reason}, {"from", ToString(state_.phase)}})));
  if (was_live) {
    entries.push_back(Entry("live", state_.stable_slot, state_.stable_version, actor,
                            Dump({{"reason", "rolled back: " + reason}})));
  }
  return Transition(PromotionPhase::kRolledBack, reason, std::move(entries), actor);
}

Status PromotionMachine::Decide(const ApprovalDecision& decision) {
  if (state_.phase != PromotionPhase::kAwaitingApproval) {
    return FailedPrecondition(fmt::format("promotion {} is not awaiting approval (it is {})",
                                          state_.id, ToString(state_.phase)));
  }
  EF_RETURN_IF_ERROR(
      CheckDecision(config_.spec.approval, state_.triggered_by, state_.decisions, decision));
  const PromotionState before = state_;
  ApprovalDecision recorded = decision;
  recorded.at_ms = Now();
  state_.decisions.push_back(recorded);
  nlohmann::json evidence = nlohmann::json::parse(state_.evidence, nullptr, false);
  std::vector<LedgerEntry> entries = {
      Entry("approval.decision", "", state_.candidate_version, recorded.user,
            Dump({{"decision", recorded.approve ? "approve" : "reject"},
                  {"role", recorded.role},
                  {"comment", recorded.comment},
                  {"evidence", evidence.is_discarded() ? nlohmann::json(nullptr) : evidence}}))};
  PromotionRow row{state_.id, state_.environment, PromotionStateToJson(state_),
                   state_.created_at_ms, Now()};
  Status committed = ledger_->Commit(row, entries);
  if (!committed.ok()) {
    state_ = before;
    return committed;
  }
  return AdvanceApproval();
}

Status PromotionMachine::Rollback(const std::string& actor, const std::string& reason) {
  if (IsTerminal(state_.phase)) {
    return FailedPrecondition(fmt::format("promotion {} is already {}; nothing to roll back",
                                          state_.id, ToString(state_.phase)));
  }
  if (state_.phase == PromotionPhase::kScaleDown && state_.stable_version.empty()) {
    return FailedPrecondition("no known-good version to roll back to (first deploy)");
  }
  return RollBackNow(actor, reason.empty() ? "rolled back by " + actor : reason);
}

Status PromotionMachine::Continue(const std::string& actor) {
  if (state_.phase != PromotionPhase::kPaused) {
    return FailedPrecondition(
        fmt::format("promotion {} is not paused (it is {})", state_.id, ToString(state_.phase)));
  }
  return StartStep(state_.step, "continued by " + actor,
                   {Entry("continue", "", state_.candidate_version, actor, "{}")});
}

}  // namespace edgefarm::coordinator
