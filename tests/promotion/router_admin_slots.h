// Test helper: SlotControl over a traffic router's admin HTTP API, with model servers that are
// already running elsewhere (version -> base URL). This is how a promotion drives a router it
// does not own, so killing the process that runs the machine leaves router and servers running.
#pragma once

#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "edgefarm/coordinator/promotion_machine.h"
#include "edgefarm/serving/load_generator.h"

namespace edgefarm::coordinator::test {

class RouterAdminSlots final : public SlotControl {
 public:
  RouterAdminSlots(std::string host, int port, std::string token,
                   std::map<std::string, std::string> servers)
      : client_(host, port), token_(std::move(token)), servers_(std::move(servers)) {
    client_.set_bearer_token_auth(token_.c_str());
  }

  Status StartSlot(serving::Slot slot, const std::string& version) override {
    auto it = servers_.find(version);
    if (it == servers_.end()) return NotFound("unknown version " + version);
    return Put("/router/upstream", {{"slot", serving::SlotName(slot)}, {"url", it->second}});
  }
  Result<bool> SlotReady(serving::Slot slot) override {
    EF_ASSIGN_OR_RETURN(auto status, Status_());
    return !status["slots"][std::string(serving::SlotName(slot))]["upstream"]
                .get<std::string>()
                .empty();
  }
  Status PreCheck(serving::Slot slot) override {
    EF_ASSIGN_OR_RETURN(auto status, Status_());
    serving::LoadOptions load;
    load.url = status["slots"][std::string(serving::SlotName(slot))]["upstream"];
    load.method = "GET";
    load.path = "/health";
    load.concurrency = 1;
    load.requests = 1;
    EF_ASSIGN_OR_RETURN(auto report, serving::RunLoad(load));
    return report.errors == 0 ? Status::Ok() : Unavailable("health check failed");
  }
  Status StopSlot(serving::Slot slot) override {
    return Put("/router/upstream", {{"slot", serving::SlotName(slot)}, {"url", ""}});
  }
  Status Route(serving::Slot live, int weight) override {
    return Put("/router/routing",
               {{"live", serving::SlotName(live)}, {"candidate_weight", weight}});
  }
  serving::SlotStats Stats(serving::Slot slot) override {
    auto status = Status_();
    serving::SlotStats s;
    if (!status.ok()) return s;
    const auto& j = (*status)["slots"][std::string(serving::SlotName(slot))];
    s.requests = j["requests"];
    s.errors = j["errors"];
    s.error_rate = j["error_rate"];
    s.p50_ms = j["p50_ms"];
    s.p95_ms = j["p95_ms"];
    s.p99_ms = j["p99_ms"];
    return s;
  }
  void ResetStats(serving::Slot slot) override {
    nlohmann::json body = {{"slot", serving::SlotName(slot)}};
    client_.Post("/router/reset", body.dump(), "application/json");
  }

 private:
  Status Put(const std::string& path, const nlohmann::json& body) {
    auto res = client_.Put(path.c_str(), body.dump(), "application/json");
    if (!res || res->status != 200) return Unavailable("router admin " + path + " failed");
    return Status::Ok();
  }
  Result<nlohmann::json> Status_() {
    auto res = client_.Get("/router/status");
    if (!res || res->status != 200) return Unavailable("router status failed");
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (!j.is_object()) return Unavailable("router status is not JSON");
    return j;
  }

  httplib::Client client_;
  std::string token_;
  std::map<std::string, std::string> servers_;
};

}  // namespace edgefarm::coordinator::test
