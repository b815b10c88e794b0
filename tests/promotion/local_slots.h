// Test helper: SlotControl over real inference servers started in this process and a real
// traffic router (shared by the promotion tests and the ramp child process).
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <map>

#include "edgefarm/coordinator/promotion_machine.h"
#include "edgefarm/serving/inference_server.h"
#include "edgefarm/serving/load_generator.h"

namespace edgefarm::coordinator::test {

using serving::Slot;

inline std::shared_ptr<spdlog::logger> Quiet() {
  return std::make_shared<spdlog::logger>("promotion-test",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

struct Version {
  std::filesystem::path model;
  serving::FaultOptions fault;
};

// SlotControl over real servers started in this process and the real router.
class LocalSlots final : public SlotControl {
 public:
  LocalSlots(serving::TrafficRouter* router, std::map<std::string, Version> versions)
      : router_(router), versions_(std::move(versions)) {}

  Status StartSlot(Slot slot, const std::string& version) override {
    auto& running = servers_[slot];
    if (running.server && running.version == version) return Status::Ok();
    auto it = versions_.find(version);
    if (it == versions_.end()) return NotFound("unknown version " + version);
    serving::ServerOptions options = serving::DefaultServerOptions();
    options.fault = it->second.fault;
    EF_ASSIGN_OR_RETURN(auto server,
                        serving::InferenceServer::Load(it->second.model, options, Quiet()));
    EF_RETURN_IF_ERROR(server->Start());
    EF_RETURN_IF_ERROR(router_->SetUpstream(slot, server->base_url()));
    running = {version, std::move(server)};
    ++starts;
    return Status::Ok();
  }
  Result<bool> SlotReady(Slot slot) override { return servers_[slot].server != nullptr; }
  Status PreCheck(Slot slot) override {
    if (!servers_[slot].server) return FailedPrecondition("slot not running");
    serving::LoadOptions load;
    load.url = servers_[slot].server->base_url();
    load.method = "GET";
    load.path = "/health";
    load.concurrency = 1;
    load.requests = 1;
    EF_ASSIGN_OR_RETURN(auto report, serving::RunLoad(load));
    return report.errors == 0 ? Status::Ok() : Unavailable("health check failed");
  }
  Status StopSlot(Slot slot) override {
    servers_[slot] = {};
    return router_->SetUpstream(slot, "");
  }
  Status Route(Slot live, int weight) override { return router_->SetRouting(live, weight); }
  serving::SlotStats Stats(Slot slot) override { return router_->Snapshot(slot); }
  void ResetStats(Slot slot) override { router_->ResetStats(slot); }

  std::string VersionIn(Slot slot) { return servers_[slot].server ? servers_[slot].version : ""; }
  int starts = 0;

 private:
  struct Running {
    std::string version;
    std::unique_ptr<serving::InferenceServer> server;
  };
  serving::TrafficRouter* router_;
  std::map<std::string, Version> versions_;
  std::map<Slot, Running> servers_;
};

// Three ramp steps of 60 s; latency judged against a 1 s floor so scheduler noise on a shared
// CI machine cannot fail a step (error rates are what these tests inject and judge).
inline PromotionConfig TestConfig() {
  PromotionConfig config;
  config.spec.traffic = {{10, 60}, {50, 60}, {100, 60}};
  config.spec.failure_limit = 1;
  config.limits.p95_floor_ms = 1000;
  config.limits.min_requests = 20;
  return config;
}

// `requests` completions through the router at `url`.
inline Status SendTraffic(const std::string& url, int requests) {
  serving::LoadOptions load;
  load.url = url;
  load.body = R"({"prompt":"Once upon a time","max_tokens":2,"temperature":0})";
  load.concurrency = 4;
  load.requests = requests;
  return serving::RunLoad(load).status();
}

}  // namespace edgefarm::coordinator::test
