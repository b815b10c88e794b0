// PromotionState <-> JSON, phase names, and which version is live. Parsing never throws: a
// damaged record is an InvalidArgument, so a restart reports it instead of crashing.
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/promotion_machine.h"

namespace edgefarm::coordinator {
namespace {

constexpr std::pair<PromotionPhase, std::string_view> kPhaseNames[] = {
    {PromotionPhase::kAwaitingApproval, "awaiting_approval"},
    {PromotionPhase::kStarting, "starting"},
    {PromotionPhase::kPreAnalysis, "pre_analysis"},
    {PromotionPhase::kRamping, "ramping"},
    {PromotionPhase::kPaused, "paused"},
    {PromotionPhase::kScaleDown, "scale_down"},
    {PromotionPhase::kSucceeded, "succeeded"},
    {PromotionPhase::kRolledBack, "rolled_back"},
    {PromotionPhase::kRejected, "rejected"},
};

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : int64_t{0};
}

bool Bool(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

std::string_view ToString(PromotionPhase phase) {
  for (const auto& [p, name] : kPhaseNames) {
    if (p == phase) return name;
  }
  return "unknown";
}

Result<PromotionPhase> ParsePromotionPhase(std::string_view text) {
  for (const auto& [p, name] : kPhaseNames) {
    if (name == text) return p;
  }
  return InvalidArgument("unknown promotion phase '" + std::string(text) + "'");
}

bool IsTerminal(PromotionPhase phase) {
  return phase == PromotionPhase::kSucceeded || phase == PromotionPhase::kRolledBack ||
         phase == PromotionPhase::kRejected;
}

namespace {

bool Switched(const PromotionState& state) {
  return state.phase == PromotionPhase::kScaleDown || state.phase == PromotionPhase::kSucceeded;
}

// A seeded baseline starts with the start phase; before it (or when the promotion never got
// there) nothing serves the environment.
bool BaselineNeverStarted(const PromotionState& state) {
  return state.stable_is_baseline && (state.phase == PromotionPhase::kAwaitingApproval ||
                                      state.phase == PromotionPhase::kRejected);
}

}  // namespace

std::string LiveVersion(const PromotionState& state) {
  if (Switched(state)) return state.candidate_version;
  return BaselineNeverStarted(state) ? std::string() : state.stable_version;
}

std::string LiveSlot(const PromotionState& state) {
  if (Switched(state)) return state.candidate_slot;
  return BaselineNeverStarted(state) ? std::string() : state.stable_slot;
}

std::string PromotionStateToJson(const PromotionState& s) {
  nlohmann::json decisions = nlohmann::json::array();
  for (const auto& d : s.decisions) {
    decisions.push_back({{"user", d.user},
                         {"role", d.role},
                         {"approve", d.approve},
                         {"comment", d.comment},
                         {"at_ms", d.at_ms}});
  }
  nlohmann::json j = {{"id", s.id},
                      {"environment", s.environment},
                      {"run_id", s.run_id},
                      {"triggered_by", s.triggered_by},
                      {"candidate_version", s.candidate_version},
                      {"candidate_slot", s.candidate_slot},
                      {"stable_version", s.stable_version},
                      {"stable_slot", s.stable_slot},
                      {"stable_is_baseline", s.stable_is_baseline},
                      {"rollback_of", s.rollback_of},
                      {"evidence", s.evidence},
                      {"phase", ToString(s.phase)},
                      {"step", s.step},
                      {"failures", s.failures},
                      {"created_at_ms", s.created_at_ms},
                      {"phase_entered_ms", s.phase_entered_ms},
                      {"hold_until_ms", s.hold_until_ms},
                      {"deadline_ms", s.deadline_ms},
                      {"decisions", decisions},
                      {"reason", s.reason}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<PromotionState> PromotionStateFromJson(const std::string& json) {
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return InvalidArgument("promotion record is not a JSON object");
  PromotionState s;
  auto str = [&](const char* key) { return Str(j, key); };
  auto num = [&](const char* key) { return Int(j, key); };
  s.id = str("id");
  s.environment = str("environment");
  s.run_id = str("run_id");
  s.triggered_by = str("triggered_by");
  s.candidate_version = str("candidate_version");
  s.candidate_slot = str("candidate_slot");
  s.stable_version = str("stable_version");
  s.stable_slot = str("stable_slot");
  s.stable_is_baseline = Bool(j, "stable_is_baseline");
  s.rollback_of = str("rollback_of");
  s.evidence = str("evidence");
  EF_ASSIGN_OR_RETURN(s.phase, ParsePromotionPhase(str("phase")));
  s.step = static_cast<int>(num("step"));
  s.failures = static_cast<int>(num("failures"));
  s.created_at_ms = num("created_at_ms");
  s.phase_entered_ms = num("phase_entered_ms");
  s.hold_until_ms = num("hold_until_ms");
  s.deadline_ms = num("deadline_ms");
  s.reason = str("reason");
  auto decisions = j.find("decisions");
  if (decisions != j.end() && decisions->is_array()) {
    for (const auto& d : *decisions) {
      if (!d.is_object()) continue;
      ApprovalDecision a;
      a.user = Str(d, "user");
      a.role = Str(d, "role");
      a.approve = Bool(d, "approve");
      a.comment = Str(d, "comment");
      a.at_ms = Int(d, "at_ms");
      s.decisions.push_back(std::move(a));
    }
  }
  if (s.id.empty() || s.environment.empty()) {
    return InvalidArgument("promotion record lacks id or environment");
  }
  return s;
}

}  // namespace edgefarm::coordinator
