// PromotionService: what the HTTP API shows and the human decisions (approve, reject, rollback,
// continue, fault drills). Every decision goes through a machine, which commits it to the ledger
// before acting; these functions find the machine (or, for a rollback after a promotion
// succeeded, begin one) and shape the answers.
#include <fmt/format.h>

#include <algorithm>

#include "edgefarm/coordinator/promotion_service.h"
#include "promotion_service_store.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

// The promotion state as the API shows it: the stored state without the (large) evidence, plus
// the live version and the current ramp weight.
json StateJson(const PromotionState& state, const PromotionConfig* config) {
  json j = json::parse(PromotionStateToJson(state), nullptr, false);
  if (!j.is_object()) j = json::object();
  j.erase("evidence");
  j["live_version"] = LiveVersion(state);
  j["live_slot"] = LiveSlot(state);
  if (config != nullptr && state.phase == PromotionPhase::kRamping && state.step >= 0 &&
      state.step < static_cast<int>(config->spec.traffic.size())) {
    j["weight"] = config->spec.traffic[state.step].weight;
  }
  if (config != nullptr) {
    json steps = json::array();
    for (const auto& s : config->spec.traffic) {
      steps.push_back({{"weight", s.weight}, {"hold_s", s.hold_seconds}});
    }
    j["traffic"] = steps;
    j["approval"] = {{"required", config->spec.approval.required},
                     {"role", config->spec.approval.role},
                     {"count", config->spec.approval.count},
                     {"timeout_s", config->spec.approval.timeout_seconds},
                     {"on_timeout", config->spec.approval.on_timeout}};
  }
  return j;
}

json EntryJson(const LedgerEntry& e) {
  json detail = json::parse(e.detail, nullptr, false);
  return {{"id", e.id},
          {"at_ms", e.at_ms},
          {"environment", e.environment},
          {"promotion_id", e.promotion_id},
          {"kind", e.kind},
          {"slot", e.slot},
          {"version", e.version},
          {"actor", e.actor},
          {"detail", detail.is_discarded() ? json(e.detail) : detail}};
}

}  // namespace

json PromotionService::PromotionJson(const std::string& promotion_id) {
  for (const auto& [environment, machine] : machines_) {
    if (machine->state().id != promotion_id) continue;
    auto config = ConfigFor(machine->state().run_id);
    return StateJson(machine->state(), config.ok() ? &*config : nullptr);
  }
  auto row = ledger_->Promotion(promotion_id);
  if (!row.ok() || !row->has_value()) return nullptr;
  auto state = PromotionStateFromJson((*row)->state_json);
  if (!state.ok()) return nullptr;
  auto config = ConfigFor(state->run_id);
  return StateJson(*state, config.ok() ? &*config : nullptr);
}

Result<json> PromotionService::RunPromotionJson(const std::string& run_id) {
  std::lock_guard lock(mu_);
  if (!store_) return FailedPrecondition("the promotion service is not started");
  json record;
  if (auto it = records_.find(run_id); it != records_.end()) {
    record = it->second;
  } else {
    EF_ASSIGN_OR_RETURN(auto row, store_->Get(run_id));
    if (row && !row->record_json.empty()) record = json::parse(row->record_json, nullptr, false);
  }
  if (!record.is_object()) {
    bool known = false;
    options_.with_scheduler([&](Scheduler& s) { known = s.FindRun(run_id) != nullptr; });
    if (!known) return NotFound("no such run");
    return json{{"run_id", run_id},
                {"state", "pending"},
                {"reason",
                 "the run has not finished (or finished before promotions were "
                 "driven by this coordinator)"}};
  }
  record["state"] = "evaluated";
  for (auto& [target, entry] : record["targets"].items()) {
    const std::string id = entry.value("promotion_id", "");
    if (!id.empty()) entry["promotion"] = PromotionJson(id);
  }
  return record;
}

Result<json> PromotionService::Decide(const std::string& run_id, const Actor& actor, bool approve,
                                      const std::string& comment) {
  {
    std::lock_guard lock(mu_);
    bool found = false;
    for (auto& [environment, machine] : machines_) {
      if (machine->state().run_id != run_id ||
          machine->state().phase != PromotionPhase::kAwaitingApproval) {
        continue;
      }
      found = true;
      ApprovalDecision decision;
      decision.user = actor.user;
      decision.role = actor.role;
      decision.approve = approve;
      decision.comment = comment;
      EF_RETURN_IF_ERROR(machine->Decide(decision));
      logger_->info("promotion {} in {}: {} by {}", machine->state().id, environment,
                    approve ? "approved" : "rejected", actor.user);
    }
    if (!found) {
      bool known = false;
      options_.with_scheduler([&](Scheduler& s) { known = s.FindRun(run_id) != nullptr; });
      if (!known) return NotFound("no such run");
      return FailedPrecondition("no promotion of run " + run_id + " is awaiting approval");
    }
  }
  wake_.notify_all();
  return RunPromotionJson(run_id);
}

Result<json> PromotionService::EnvironmentsJson() {
  std::lock_guard lock(mu_);
  if (!ledger_) return FailedPrecondition("the promotion service is not started");
  EF_ASSIGN_OR_RETURN(auto environments, ledger_->Environments());
  json out = json::array();
  for (const auto& environment : environments) {
    EF_ASSIGN_OR_RETURN(auto rows, ledger_->Promotions(environment));
    json env = {{"name", environment},
                {"live_version", ""},
                {"live_slot", ""},
                {"router_url", ""},
                {"promotion", nullptr}};
    if (auto it = slots_.find(environment); it != slots_.end()) {
      env["router_url"] = it->second->router_url();
    }
    if (!rows.empty()) {
      auto last = PromotionStateFromJson(rows.back().state_json);
      if (last.ok()) {
        env["live_version"] = LiveVersion(*last);
        env["live_slot"] = LiveSlot(*last);
        env["promotion"] = PromotionJson(last->id);
      }
    }
    out.push_back(std::move(env));
  }
  return json{{"environments", out}};
}

Result<json> PromotionService::HistoryJson(const std::string& environment) {
  std::lock_guard lock(mu_);
  if (!ledger_) return FailedPrecondition("the promotion service is not started");
  EF_ASSIGN_OR_RETURN(auto entries, ledger_->History(environment));
  if (entries.empty()) {
    EF_ASSIGN_OR_RETURN(auto environments, ledger_->Environments());
    if (std::find(environments.begin(), environments.end(), environment) == environments.end()) {
      return NotFound("no such environment");
    }
  }
  json out = json::array();
  for (const auto& e : entries) out.push_back(EntryJson(e));
  return json{{"environment", environment}, {"entries", out}};
}

Result<json> PromotionService::Rollback(const std::string& environment, const Actor& actor,
                                        const std::string& reason) {
  std::lock_guard lock(mu_);
  PromotionMachine* machine = ActiveMachine(environment);
  if (machine == nullptr) return RestorePrevious(environment, actor, reason);
  EF_RETURN_IF_ERROR(
      machine->Rollback(actor.user, reason.empty() ? "rolled back by hand" : reason));
  logger_->info("promotion {} in {} rolled back by {}", machine->state().id, environment,
                actor.user);
  return PromotionJson(machine->state().id);
}

Result<json> PromotionService::RestorePrevious(const std::string& environment, const Actor& actor,
                                               const std::string& reason) {
  if (!ledger_) return FailedPrecondition("the promotion service is not started");
  EF_ASSIGN_OR_RETURN(auto rows, ledger_->Promotions(environment));
  if (rows.empty()) return FailedPrecondition("nothing was ever promoted in " + environment);
  EF_ASSIGN_OR_RETURN(PromotionState last, PromotionStateFromJson(rows.back().state_json));
  if (last.phase != PromotionPhase::kSucceeded) {
    return FailedPrecondition(fmt::format(
        "the last promotion in {} ({}) ended {}: its stable version is still the live one",
        environment, last.id, ToString(last.phase)));
  }
  if (last.stable_version.empty()) {
    return FailedPrecondition("the live version of " + environment +
                              " was its first deploy: there is no previous version");
  }
  json evidence = json::parse(last.evidence, nullptr, false);
  const auto tags = evidence.is_object()
                        ? evidence.value("tags", std::map<std::string, std::string>())
                        : std::map<std::string, std::string>();
  EF_ASSIGN_OR_RETURN(EnvironmentSlots * slots, SlotsFor(environment, tags));
  PromotionConfig config = RollbackConfig();
  config.spec.environment = environment;
  PromotionState state;
  state.id = "prom-" + RandomHex(6);
  state.environment = environment;
  state.run_id = last.run_id;
  state.triggered_by = actor.user;
  state.candidate_version = last.stable_version;
  state.stable_version = last.candidate_version;
  state.stable_slot = last.candidate_slot;
  state.rollback_of = last.id;
  state.evidence = json{
      {"rollback_of", last.id},
      {"reason", reason.empty() ? "rolled back by hand" : reason},
      {"tags", tags}}.dump();
  auto machine =
      std::make_unique<PromotionMachine>(config, ledger_.get(), slots, options_.clock, logger_);
  EF_RETURN_IF_ERROR(machine->Begin(std::move(state)));
  const std::string id = machine->state().id;
  logger_->info("environment {}: {} rolls {} back to {} (asked by {})", environment, id,
                last.candidate_version.substr(0, 12), last.stable_version.substr(0, 12),
                actor.user);
  machines_[environment] = std::move(machine);
  return PromotionJson(id);
}

Result<json> PromotionService::Continue(const std::string& environment, const Actor& actor) {
  std::lock_guard lock(mu_);
  PromotionMachine* machine = ActiveMachine(environment);
  if (machine == nullptr)
    return FailedPrecondition("no promotion is in progress in " + environment);
  EF_RETURN_IF_ERROR(machine->Continue(actor.user));
  return PromotionJson(machine->state().id);
}

Status PromotionService::SetFault(const std::string& environment, const std::string& version,
                                  const SlotFault& fault) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(environment);
  if (it == slots_.end()) {
    pending_faults_[environment][version] = fault;
    return Status::Ok();
  }
  return it->second->SetFault(version, fault);
}

}  // namespace edgefarm::coordinator
