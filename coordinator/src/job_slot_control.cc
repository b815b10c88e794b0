// JobSlotControl (job_slot_control.h). Implementation notes:
// - The records are the truth about what should run; the scheduler is the truth about what does.
//   Each method loads the record, asks the scheduler about its job (through slot_jobs.cc) and
//   acts; every change to a record is saved before the job it describes is submitted (with the
//   job id empty: a "marker") and again after, so recovery after a crash adopts the submitted run
//   (found by run name and port) instead of submitting a second one.
// - HTTP to jobs goes through slot_http.cc; the router admin token is only ever passed to it.
// - Route() pushes both upstreams and the routing on every call: idempotent, and it repairs a
//   router that was restarted (a new router job starts from the recorded routing anyway). A
//   router restarted by the scheduler (a new attempt of the same job: same port, but the flags it
//   was launched with) is noticed by its attempt number in Route() and by the routing it reports
//   in Stats(), and repaired the same way.
// - Admin, stats and smoke calls are retried on transport failures (slot_http.cc); readiness
//   probes are not (the machine probes again on its next tick).
#include "edgefarm/coordinator/job_slot_control.h"

#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "edgefarm/common/sha256.h"
#include "slot_http.h"
#include "slot_jobs.h"
#include "slot_records.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;
using serving::Slot;

constexpr char kRouter[] = "router";
constexpr char kSmokeBody[] = R"({"prompt":"Once upon a time","max_tokens":4,"temperature":0})";

json ParseObject(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

bool Alive(const SlotJobView& view) {
  return view.found && !IsTerminal(view.state);
}

std::string Ended(const SlotJobView& view) {
  if (!view.found) return "its job is unknown to the scheduler";
  return "its job ended " + std::string(ToString(view.state)) +
         (view.reason.empty() ? "" : " (" + view.reason + ")");
}

}  // namespace

struct JobSlotControl::Impl {
  // Serialises every public method: the promotion service calls from its tick thread and its
  // HTTP handlers (router_url, SetFault). Never held while another thread waits on it for long:
  // the longest hold is one HTTP call (http_timeout_ms).
  mutable std::mutex mu;
  std::string environment;
  Tags tags;
  JobSlotDeps deps;
  std::unique_ptr<SlotRecordStore> store;
  std::string token;  // router admin token: never logged, never in an error
  InputRef token_input;
  std::map<std::string, ServeFault> faults;
  std::map<std::string, SlotRecord> records;  // write-through cache of the store
  std::string router_ready_url;
  uint32_t router_ready_attempt = 0;  // the router job's attempt that answered at router_ready_url

  std::string RunName(const std::string& name) const { return "env/" + environment + "/" + name; }

  SlotRecord& Record(const std::string& name) {
    auto [it, inserted] = records.try_emplace(name);
    if (inserted) {
      it->second.environment = environment;
      it->second.name = name;
    }
    return it->second;
  }

  Status Save(SlotRecord& record) {
    record.updated_at_ms = deps.clock->UnixMillis();
    return store->Save(record);
  }

  // attempts 0: deps.http_attempts (an idempotent call worth sending again); 1: a probe.
  Status Call(const std::string& method, const std::string& url, const std::string& path,
              const std::string& body, json* out = nullptr, bool admin = false, int attempts = 0) {
    const SlotHttpPolicy policy{deps.http_timeout_ms, attempts > 0 ? attempts : deps.http_attempts};
    EF_ASSIGN_OR_RETURN(SlotHttpReply reply,
                        SlotHttpCall(method, url, path, body, admin ? token : "", policy));
    if (reply.status != 200) {
      return Unavailable(method + " " + url + path + " answered " + std::to_string(reply.status));
    }
    if (out != nullptr) *out = ParseObject(reply.body);
    return Status::Ok();
  }

  // The record's job as the scheduler sees it; resolves a marker left by a crash.
  Result<SlotJobView> JobOf(SlotRecord& record) {
    if (record.job_id.empty() && !record.url.empty()) {
      auto adopted = AdoptSlotJob(deps, RunName(record.name), record.port);
      if (!adopted) return SlotJobView{};
      record.run_id = adopted->run_id;
      record.job_id = adopted->job_id;
      EF_RETURN_IF_ERROR(Save(record));
      deps.logger->info("slot {}/{}: adopted job {} submitted before a restart", environment,
                        record.name, record.job_id);
    }
    return LookUpSlotJob(deps, record.job_id);
  }

  // Marker, submission, record: the record names a job before and after it exists.
  Status Submit(SlotRecord& record, std::vector<std::string> argv, std::vector<InputRef> inputs) {
    EF_ASSIGN_OR_RETURN(std::set<int> in_use, store->PortsInUse());
    if (record.port > 0 && !record.url.empty()) in_use.insert(record.port);  // may be stuck
    EF_ASSIGN_OR_RETURN(int port, PickSlotPort(deps, in_use));
    record.port = port;
    record.url = "http://" + deps.worker_host + ":" + std::to_string(port);
    record.run_id.clear();
    record.job_id.clear();
    EF_RETURN_IF_ERROR(Save(record));
    argv.insert(argv.end(), {"--port", std::to_string(port), "--host", deps.worker_host});
    SlotJobSpec spec{RunName(record.name),
                     record.name == kRouter ? "router" : "serve-" + record.name,
                     std::move(argv),
                     std::move(inputs),
                     tags,
                     deps.job_timeout_seconds};
    EF_ASSIGN_OR_RETURN(SlotJobIds ids, SubmitSlotJob(deps, spec));
    record.run_id = ids.run_id;
    record.job_id = ids.job_id;
    EF_RETURN_IF_ERROR(Save(record));
    deps.logger->info("slot {}/{}: job {} (run {}) at {}", environment, record.name, ids.job_id,
                      ids.run_id, record.url);
    return Status::Ok();
  }

  Status LaunchServe(SlotRecord& record, const std::string& version) {
    EF_ASSIGN_OR_RETURN(uint64_t size, deps.blobs->Size(version));
    std::vector<std::string> argv = {deps.engine, "serve", "model", "--threads",
                                     std::to_string(deps.serve_threads)};
    record.version = version;
    record.fault.clear();
    if (auto it = faults.find(version); it != faults.end()) {
      const ServeFault& f = it->second;
      argv.insert(argv.end(), {"--fault-error-rate", std::to_string(f.error_rate),
                               "--fault-latency-ms", std::to_string(f.latency_ms)});
      record.fault = json{{"error_rate", f.error_rate}, {"latency_ms", f.latency_ms}}.dump();
    }
    return Submit(record, std::move(argv), {InputRef{"model", version, size}});
  }

  Status LaunchRouter(SlotRecord& router) {
    std::vector<std::string> argv = {deps.engine,
                                     "route",
                                     "--blue",
                                     Record("blue").url,
                                     "--green",
                                     Record("green").url,
                                     "--live",
                                     router.live.empty() ? "blue" : router.live,
                                     "--weight",
                                     std::to_string(router.weight),
                                     "--admin-token-file",
                                     "admin_token"};
    router_ready_url.clear();
    return Submit(router, std::move(argv), {token_input});
  }

  // Ok once the router job answers; starts (or restarts) it when needed.
  Status EnsureRouter(Slot live, int weight) {
    SlotRecord& router = Record(kRouter);
    uint32_t attempt = 0;
    if (router.url.empty()) {
      router.live = std::string(serving::SlotName(live));
      router.weight = weight;
      EF_RETURN_IF_ERROR(LaunchRouter(router));
    } else {
      EF_ASSIGN_OR_RETURN(SlotJobView view, JobOf(router));
      attempt = view.attempt;
      if (!Alive(view)) {
        if (router.restarts >= deps.max_restarts) {
          return Unavailable("router of " + environment + " keeps ending: " + Ended(view));
        }
        ++router.restarts;
        deps.logger->warn("router of {}: {}; starting it again", environment, Ended(view));
        EF_RETURN_IF_ERROR(LaunchRouter(router));
      } else if (view.state != JobState::kRunning) {
        return Unavailable("router job of " + environment + " is " +
                           std::string(ToString(view.state)));
      }
    }
    // A new attempt of the same job is a new process on the same port: ask it again.
    if (router_ready_url == router.url && router_ready_attempt == attempt) return Status::Ok();
    if (Status s = Call("GET", router.url, "/router/status", "", nullptr, false, 1); !s.ok()) {
      return Unavailable("router of " + environment + " not ready yet: " + s.message());
    }
    if (!router_ready_url.empty() && router_ready_attempt != attempt) {
      deps.logger->warn("router of {}: job {} runs as attempt {} now; routing it again",
                        environment, router.job_id, attempt);
    }
    router_ready_url = router.url;
    router_ready_attempt = attempt;
    if (router.restarts != 0) {
      router.restarts = 0;
      EF_RETURN_IF_ERROR(Save(router));
    }
    return Status::Ok();
  }

  Status SetUpstream(const std::string& slot, const std::string& url) {
    return Call("PUT", Record(kRouter).url, "/router/upstream",
                json{{"slot", slot}, {"url", url}}.dump(), nullptr, /*admin=*/true);
  }

  // Both upstreams and the routing, pushed to the router that answered (EnsureRouter first).
  Status ApplyRouting(const std::string& live_name, int candidate_weight) {
    for (const char* name : {"blue", "green"}) {
      EF_RETURN_IF_ERROR(SetUpstream(name, Record(name).url));
    }
    return Call("PUT", router_ready_url, "/router/routing",
                json{{"live", live_name}, {"candidate_weight", candidate_weight}}.dump(), nullptr,
                /*admin=*/true);
  }

  // Health answered 200 with the slot's digest. attempts: as Call's.
  Status Health(const SlotRecord& record, int attempts = 0) {
    json health;
    EF_RETURN_IF_ERROR(Call("GET", record.url, "/health", "", &health, false, attempts));
    if (health.value("digest", "") != record.version) {
      return FailedPrecondition("slot " + record.name + " at " + record.url +
                                " serves another model (digest " + health.value("digest", "") +
                                ")");
    }
    return Status::Ok();
  }
};

Result<std::unique_ptr<JobSlotControl>> JobSlotControl::Open(
    std::string environment, std::map<std::string, std::string> worker_tags, JobSlotDeps deps) {
  static const std::regex kName("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  if (!std::regex_match(environment, kName)) {
    return InvalidArgument("environment name '" + environment + "' is not [A-Za-z0-9._-]+");
  }
  if (!deps.with_scheduler || deps.blobs == nullptr || deps.clock == nullptr || !deps.logger ||
      deps.state_db.empty() || deps.engine.empty()) {
    return InvalidArgument("JobSlotDeps needs with_scheduler, blobs, state_db, clock, logger");
  }
  if (deps.port_first > 0 && deps.port_last < deps.port_first) {
    return InvalidArgument("JobSlotDeps port range is empty");
  }
  auto impl = std::make_unique<Impl>();
  impl->environment = std::move(environment);
  impl->tags = std::move(worker_tags);
  if (deps.secrets_dir.empty()) deps.secrets_dir = deps.state_db.parent_path();
  impl->deps = std::move(deps);
  EF_ASSIGN_OR_RETURN(impl->store, SlotRecordStore::Open(impl->deps.state_db));
  for (const char* name : {"blue", "green", kRouter}) {
    EF_ASSIGN_OR_RETURN(auto record, impl->store->Load(impl->environment, name));
    if (record) impl->records[name] = *record;
  }
  // After a restart the router job usually still runs: show its URL at once if it answers.
  if (auto it = impl->records.find(kRouter); it != impl->records.end() && !it->second.url.empty()) {
    if (impl->Call("GET", it->second.url, "/router/status", "", nullptr, false, 1).ok()) {
      impl->router_ready_url = it->second.url;
      const SlotJobView view = LookUpSlotJob(impl->deps, it->second.job_id);
      impl->router_ready_attempt = view.attempt;
    }
  }
  bool created = false;
  EF_ASSIGN_OR_RETURN(impl->token, EnsureRouterToken(impl->deps.secrets_dir /
                                                         ("router-" + impl->environment + ".token"),
                                                     &created));
  // The job reads the token as an input file, so it is a blob (fetched like any input).
  const std::string content = impl->token + "\n";
  const std::string digest = Sha256Hex(content);
  EF_ASSIGN_OR_RETURN(uint64_t size, impl->deps.blobs->Put(digest, content));
  impl->token_input = InputRef{"admin_token", digest, size};
  if (created) {
    impl->deps.with_scheduler([&](Scheduler& s) { s.RecordBlob(digest, size); });
  }
  return std::unique_ptr<JobSlotControl>(new JobSlotControl(std::move(impl)));
}

JobSlotControl::JobSlotControl(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JobSlotControl::~JobSlotControl() = default;

void JobSlotControl::SetFault(const std::string& version, ServeFault fault) {
  std::lock_guard lock(impl_->mu);
  if (fault.error_rate <= 0 && fault.latency_ms <= 0) {
    impl_->faults.erase(version);
  } else {
    impl_->faults[version] = fault;
  }
}

std::string JobSlotControl::router_url() const {
  std::lock_guard lock(impl_->mu);
  return impl_->router_ready_url;
}

std::string JobSlotControl::slot_url(Slot slot) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->records.find(std::string(serving::SlotName(slot)));
  return it == impl_->records.end() ? "" : it->second.url;
}

std::string JobSlotControl::slot_job(Slot slot) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->records.find(std::string(serving::SlotName(slot)));
  return it == impl_->records.end() ? "" : it->second.job_id;
}

std::string JobSlotControl::router_job() const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->records.find(kRouter);
  return it == impl_->records.end() ? "" : it->second.job_id;
}

Status JobSlotControl::StartSlot(Slot slot, const std::string& version) {
  std::lock_guard lock(impl_->mu);
  SlotRecord& record = impl_->Record(std::string(serving::SlotName(slot)));
  if (!record.url.empty()) {
    EF_ASSIGN_OR_RETURN(SlotJobView view, impl_->JobOf(record));
    if (Alive(view) && record.version == version) return Status::Ok();
    if (Alive(view)) {
      impl_->deps.logger->info("slot {}/{}: replacing {} by {}", impl_->environment, record.name,
                               record.version, version);
      EF_RETURN_IF_ERROR(CancelSlotJob(impl_->deps, record.job_id));
    }
  }
  if (!impl_->deps.blobs->Contains(version)) {
    return NotFound("version " + version + " is not in the blob store");
  }
  record.restarts = 0;
  return impl_->LaunchServe(record, version);
}

Result<bool> JobSlotControl::SlotReady(Slot slot) {
  std::lock_guard lock(impl_->mu);
  SlotRecord& record = impl_->Record(std::string(serving::SlotName(slot)));
  if (record.url.empty()) return FailedPrecondition("nothing was started in " + record.name);
  EF_ASSIGN_OR_RETURN(SlotJobView view, impl_->JobOf(record));
  if (!Alive(view)) {
    if (record.restarts >= impl_->deps.max_restarts) {
      return Unavailable("slot " + record.name + ": " + Ended(view) + " after " +
                         std::to_string(record.restarts) + " restarts");
    }
    ++record.restarts;
    impl_->deps.logger->warn("slot {}/{}: {}; starting it again", impl_->environment, record.name,
                             Ended(view));
    EF_RETURN_IF_ERROR(impl_->LaunchServe(record, record.version));
    return false;
  }
  if (view.state != JobState::kRunning) return false;
  return impl_->Health(record, /*attempts=*/1).ok();
}

Status JobSlotControl::PreCheck(Slot slot) {
  std::lock_guard lock(impl_->mu);
  SlotRecord& record = impl_->Record(std::string(serving::SlotName(slot)));
  if (record.url.empty()) return FailedPrecondition("nothing was started in " + record.name);
  EF_RETURN_IF_ERROR(impl_->Health(record));
  json answer;
  EF_RETURN_IF_ERROR(impl_->Call("POST", record.url, "/v1/completions", kSmokeBody, &answer));
  if (!answer.contains("text") || !answer["text"].is_string() ||
      answer.value("model_digest", "") != record.version) {
    return FailedPrecondition("slot " + record.name + ": the smoke completion is not valid");
  }
  return Status::Ok();
}

Status JobSlotControl::StopSlot(Slot slot) {
  std::lock_guard lock(impl_->mu);
  SlotRecord& record = impl_->Record(std::string(serving::SlotName(slot)));
  if (record.url.empty()) return Status::Ok();
  EF_ASSIGN_OR_RETURN(SlotJobView view, impl_->JobOf(record));
  if (Alive(view)) EF_RETURN_IF_ERROR(CancelSlotJob(impl_->deps, record.job_id));
  if (!impl_->router_ready_url.empty()) {
    // Best effort: the router would otherwise answer 502 for a slot that gets no traffic anyway.
    (void)impl_->SetUpstream(record.name, "");
  }
  impl_->deps.logger->info("slot {}/{}: stopped {} (job {})", impl_->environment, record.name,
                           record.version, record.job_id);
  record.version.clear();
  record.url.clear();
  record.fault.clear();
  record.restarts = 0;
  return impl_->Save(record);
}

Status JobSlotControl::Route(Slot live, int candidate_weight) {
  std::lock_guard lock(impl_->mu);
  if (candidate_weight < 0 || candidate_weight > 100) {
    return InvalidArgument("candidate weight must be 0..100");
  }
  EF_RETURN_IF_ERROR(impl_->EnsureRouter(live, candidate_weight));
  const std::string live_name(serving::SlotName(live));
  EF_RETURN_IF_ERROR(impl_->ApplyRouting(live_name, candidate_weight));
  SlotRecord& router = impl_->Record(kRouter);
  if (router.live == live_name && router.weight == candidate_weight) return Status::Ok();
  router.live = live_name;
  router.weight = candidate_weight;
  return impl_->Save(router);
}

serving::SlotStats JobSlotControl::Stats(Slot slot) {
  std::lock_guard lock(impl_->mu);
  serving::SlotStats stats;
  const SlotRecord& router = impl_->Record(kRouter);
  if (router.url.empty()) return stats;
  json status;
  if (!impl_->Call("GET", router.url, "/router/status", "", &status).ok()) return stats;
  if (!router.live.empty() && (status.value("live", "") != router.live ||
                               status.value("candidate_weight", -1) != router.weight)) {
    // The process restarted since the routing was set (its launch flags, no samples): route it
    // again for what follows; what it lost is not made up.
    impl_->deps.logger->warn(
        "router of {}: reports live {} at {} %, recorded {} at {} %; routing it "
        "again",
        impl_->environment, status.value("live", ""), status.value("candidate_weight", -1),
        router.live, router.weight);
    const std::string live = router.live;
    const int weight = router.weight;
    auto live_slot = serving::ParseSlot(live);
    if (live_slot.ok() && impl_->EnsureRouter(*live_slot, weight).ok()) {
      (void)impl_->ApplyRouting(live, weight);
    }
  }
  const json s = status["slots"][std::string(serving::SlotName(slot))];
  if (!s.is_object()) return stats;
  stats.requests = s.value("requests", uint64_t{0});
  stats.errors = s.value("errors", uint64_t{0});
  stats.error_rate = s.value("error_rate", 0.0);
  stats.p50_ms = s.value("p50_ms", 0.0);
  stats.p95_ms = s.value("p95_ms", 0.0);
  stats.p99_ms = s.value("p99_ms", 0.0);
  return stats;
}

void JobSlotControl::ResetStats(Slot slot) {
  std::lock_guard lock(impl_->mu);
  const SlotRecord& router = impl_->Record(kRouter);
  if (router.url.empty()) return;
  Status s = impl_->Call("POST", router.url, "/router/reset",
                         json{{"slot", serving::SlotName(slot)}}.dump(), nullptr, true);
  if (!s.ok())
    impl_->deps.logger->warn("router of {}: reset failed: {}", impl_->environment, s.message());
}

}  // namespace edgefarm::coordinator
