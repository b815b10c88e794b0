// Blue-green promotion of one candidate version into one environment, as a durable state
// machine (docs/promotion.md draws it):
//
//   awaiting_approval → starting → pre_analysis → ramping(step 0..n-1) → scale_down → succeeded
//          │               │            │              │    ↘ paused (inconclusive) ↗ / ↘
//          ↓               └────────────┴──────────────┴──────────→ rolled_back
//       rejected
//
// - awaiting_approval: EvaluateApproval (approval.h) decides; not required → starting at once.
// - starting: the candidate's server is started in the idle slot and must report ready.
// - pre_analysis: SlotControl::PreCheck on the candidate (health and a smoke request).
// - ramping: the router sends traffic[step].weight % to the candidate; after the hold,
//   serving::CompareSlots(candidate, live) judges the step. pass → next step (after the last:
//   switch); fail → failures+1, and at failure_limit an automatic rollback, else the step is held
//   again; inconclusive → paused for a human (Continue or Rollback).
// - scale_down: the candidate is live (100 %, the ledger records the switch); the old slot stays
//   warm for scale_down_delay so a rollback is instant, then it is stopped → succeeded.
// - rolled_back: the stable (last known-good) slot takes all traffic, the candidate is stopped.
// Every non-terminal phase has a deadline (deadline_ms); passing it rolls back (for
// awaiting_approval the approval's own timeout policy applies).
//
// Durability: every transition is committed to the PromotionLedger (state + ledger entries)
// before any action it implies is taken; actions are idempotent (start a version already running,
// route to what is already routed), so Resume() after a restart simply re-applies the current
// phase. A ramp step resumed after a restart starts its hold again (its samples were lost).
// Time is the injected Clock's UnixMillis (it survives restarts, unlike steady time).
//
// Thread-safety: none; the owner serialises calls. Failure: Status values; a SlotControl error in
// a phase's action is retried on the next Advance until the phase's deadline.
#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/approval.h"
#include "edgefarm/coordinator/ledger.h"
#include "edgefarm/pipelines/pipeline.h"
#include "edgefarm/serving/slot_analysis.h"
#include "edgefarm/serving/traffic_router.h"

namespace edgefarm::coordinator {

enum class PromotionPhase {
  kAwaitingApproval,
  kStarting,
  kPreAnalysis,
  kRamping,
  kPaused,
  kScaleDown,
  kSucceeded,
  kRolledBack,
  kRejected,
};
std::string_view ToString(PromotionPhase phase);
Result<PromotionPhase> ParsePromotionPhase(std::string_view text);
bool IsTerminal(PromotionPhase phase);

// What the machine drives: two model-server slots behind a router. Implementations: the
// coordinator's (serve jobs on workers + the serving library's router) and the tests' (real
// in-process servers and router). Every method must be idempotent.
class SlotControl {
 public:
  virtual ~SlotControl() = default;
  // Starts `version` (an artifact digest) in `slot`; Ok when it already runs there.
  virtual Status StartSlot(serving::Slot slot, const std::string& version) = 0;
  virtual Result<bool> SlotReady(serving::Slot slot) = 0;
  // Health and smoke request against the slot directly (not through the router).
  virtual Status PreCheck(serving::Slot slot) = 0;
  virtual Status StopSlot(serving::Slot slot) = 0;
  virtual Status Route(serving::Slot live, int candidate_weight) = 0;
  virtual serving::SlotStats Stats(serving::Slot slot) = 0;
  virtual void ResetStats(serving::Slot slot) = 0;
};

struct PromotionConfig {
  pipelines::PromotionSpec spec;
  serving::AnalysisLimits limits;
  int64_t start_timeout_ms = 5 * 60 * 1000;
  int64_t analysis_grace_ms = 60 * 1000;  // a ramp step's deadline: hold + this
  int64_t pause_timeout_ms = 60 * 60 * 1000;
  int64_t scale_down_delay_ms = 60 * 1000;
};

// The durable state of one promotion (serialised whole into the promotions table).
struct PromotionState {
  std::string id;
  std::string environment;
  std::string run_id;
  std::string triggered_by;
  std::string candidate_version;  // artifact digest
  std::string candidate_slot;     // "blue" | "green"
  std::string stable_version;     // the last known-good version; "" for a first deploy
  std::string stable_slot;
  // The stable version is the run's unoptimised baseline model, seeded into a new environment
  // (nothing served it before this promotion's start phase started it).
  bool stable_is_baseline = false;
  // Set when this promotion is a hand rollback of the succeeded promotion with this id: the
  // candidate is the previous version, which switches back after pre-analysis without a ramp.
  std::string rollback_of;
  std::string evidence;  // JSON: gate verdicts, Pareto choice, staging measurements
  PromotionPhase phase = PromotionPhase::kAwaitingApproval;
  int step = 0;
  int failures = 0;
  int64_t created_at_ms = 0;
  int64_t phase_entered_ms = 0;
  int64_t hold_until_ms = 0;
  int64_t deadline_ms = 0;
  std::vector<ApprovalDecision> decisions;
  std::string reason;  // why the current phase was entered
};
std::string PromotionStateToJson(const PromotionState& state);
Result<PromotionState> PromotionStateFromJson(const std::string& json);

// The version serving all traffic of the environment in this state ("" when none: a first
// deploy before its switch, or a seeded baseline that was never started).
std::string LiveVersion(const PromotionState& state);
std::string LiveSlot(const PromotionState& state);

class PromotionMachine {
 public:
  // ledger, slots and clock must outlive the machine.
  PromotionMachine(PromotionConfig config, PromotionLedger* ledger, SlotControl* slots,
                   const Clock* clock, std::shared_ptr<spdlog::logger> logger);

  // Starts a new promotion: state.id, environment, candidate_version, stable_version/slot (empty
  // for a first deploy), run_id, triggered_by and evidence filled by the caller; the candidate
  // goes to the idle slot. Committed before it returns.
  Status Begin(PromotionState state);
  // Continues a stored promotion after a restart.
  Status Resume(PromotionState state);

  // Moves on as far as time and observations allow (call it periodically).
  Status Advance();

  // An approval or rejection (approval.h rules). Committed and recorded in the ledger.
  Status Decide(const ApprovalDecision& decision);
  // A human rollback (`edgefarm rollback ENV`): from any non-terminal phase.
  Status Rollback(const std::string& actor, const std::string& reason);
  // A human decision to continue a paused ramp (the paused step is held again).
  Status Continue(const std::string& actor);

  const PromotionState& state() const { return state_; }

 private:
  Status Transition(PromotionPhase phase, const std::string& reason,
                    std::vector<LedgerEntry> entries, const std::string& actor = "coordinator");
  Status Enter();  // the idempotent actions of the current phase
  Status AdvanceApproval();
  Status AdvanceStarting();
  Status AdvancePreAnalysis();
  Status AdvanceRamp();
  Status AdvanceScaleDown();
  struct TrafficStepView {
    int weight;
    int hold_seconds;
  };
  TrafficStepView Step(int step) const;
  Status StartStep(int step, const std::string& reason, std::vector<LedgerEntry> entries);
  Status Switch(const std::string& reason, std::vector<LedgerEntry> entries);
  Status RollBackNow(const std::string& actor, const std::string& reason,
                     std::vector<LedgerEntry> entries = {});
  LedgerEntry Entry(const std::string& kind, const std::string& slot, const std::string& version,
                    const std::string& actor, const std::string& detail) const;
  serving::Slot CandidateSlot() const;
  serving::Slot StableSlot() const;
  int64_t Now() const { return clock_->UnixMillis(); }

  PromotionConfig config_;
  PromotionLedger* ledger_;
  SlotControl* slots_;
  const Clock* clock_;
  std::shared_ptr<spdlog::logger> logger_;
  PromotionState state_;
  bool acted_ = false;  // the current phase's actions have been applied
};

}  // namespace edgefarm::coordinator
