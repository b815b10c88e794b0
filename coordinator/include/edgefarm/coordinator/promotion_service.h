// The coordinator's promotion driver (issue 6): from a finished run to a version serving an
// environment.
//
// For every run submitted through the API (NoteSubmitter), once it has finished, the service
//   1. judges the cells (JudgeCells) and picks a recommended cell per target (Recommend), and
//      stores both in DATA/promotion.db (table run_promotions, docs/storage.md);
//   2. for each target with a recommended cell and a pipeline `staging:` section, submits the
//      stage check as a one-job run ("stage/<run>/<target>") on a worker with the cell's tags: an
//      engine job whose record is the signed `edgefarm.stage/v1` job (StageJobJson with the key
//      from EnsureSigningKey) and whose input "model" is the cell's model.gguf artifact. A stage
//      that fails its checks ends the candidate's path (recorded with the failed checks); a
//      stage job that ends without a report (infrastructure) is submitted again, never judged;
//   3. after staging passed (or when the pipeline has no staging), when the pipeline has a
//      `promotion:` section, Begins a PromotionMachine for the target's environment with the
//      evidence (verdicts, Pareto choice, staging measurements) and the run's submitter as the
//      triggerer (who may therefore not approve it). One promotion per environment at a time; a
//      later candidate waits until the environment's promotion has ended.
// A background thread calls Advance() on active machines; Start() Resumes stored ones.
//
// Thread-safety: every public method is safe from any thread (HTTP handlers). Lock order: the
// service's own mutex, then the coordinator's (through with_scheduler); the coordinator must
// never call into the service while holding its own lock. Failure: Status values; a failing
// SlotControl or store is logged and retried on the next tick.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/ledger.h"
#include "edgefarm/coordinator/promotion_machine.h"
#include "edgefarm/coordinator/scheduler.h"
#include "edgefarm/serving/signing.h"

namespace edgefarm::coordinator {

class RunPromotionStore;  // promotion_service_store.h (internal)

// A fault injected into every server started for a version from now on (drills and tests).
struct SlotFault {
  double error_rate = 0;
  int latency_ms = 0;
};

// The slots of one environment as the service drives them: a SlotControl plus what the HTTP API
// shows and the drills need. Implementations: JobSlotControl (serve jobs on workers) behind an
// adapter in the coordinator, and the tests' in-process servers.
class EnvironmentSlots : public SlotControl {
 public:
  virtual std::string router_url() const { return ""; }  // "" until known
  virtual Status SetFault(const std::string& version, const SlotFault& fault) {
    (void)version;
    (void)fault;
    return FailedPrecondition("these slots cannot inject faults");
  }
};

// Opens the slots of `environment` on workers with `tags`. Called once per environment.
using SlotFactory = std::function<Result<std::unique_ptr<EnvironmentSlots>>(
    const std::string& environment, const std::map<std::string, std::string>& tags)>;

struct PromotionServiceOptions {
  // Runs fn with the scheduler under the coordinator's lock (Coordinator::WithScheduler).
  std::function<void(const std::function<void(Scheduler&)>&)> with_scheduler;
  const BlobStore* blobs = nullptr;
  std::filesystem::path data_dir;  // DATA: promotion.db and signing.key
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  SlotFactory slots;  // empty: candidates are recorded as not_promoted
  // argv[0] of serve and route jobs for JobSlotFactory; empty: the engine built next to this
  // binary (<dir of exe>/../engine/edgefarm-engine) when present, else a PATH lookup.
  std::string engine;
  // Phase timings and analysis limits of every machine (tests shorten them).
  int64_t start_timeout_ms = 5 * 60 * 1000;
  int64_t analysis_grace_ms = 60 * 1000;
  int64_t pause_timeout_ms = 60 * 60 * 1000;
  int64_t scale_down_delay_ms = 60 * 1000;
  serving::AnalysisLimits limits;
  int max_stage_submissions = 3;  // stage jobs ending without a report are submitted again
  std::chrono::milliseconds tick_interval{100};
};

// The coordinator's slots: one JobSlotControl (serve and route jobs on workers) per environment,
// sharing the service's scheduler access, blob store, DATA/promotion.db, clock and logger
// (promotion_service_slots.cc).
SlotFactory JobSlotFactory(const PromotionServiceOptions& options);

// Who made a decision through the API: "<token name>:<token id>" (never the token).
struct Actor {
  std::string user;
  std::string role;  // roles.h name
};

class PromotionService {
 public:
  explicit PromotionService(PromotionServiceOptions options);
  ~PromotionService();
  PromotionService(const PromotionService&) = delete;
  PromotionService& operator=(const PromotionService&) = delete;

  // Opens promotion.db and the signing key, resumes stored promotions, starts the thread.
  Status Start();
  void Stop();  // idempotent

  // Records who submitted a run (durable when it returns) and makes the run one the service
  // drives; its promotions refuse that user's approval. Called for API submissions ("<token
  // name>:<token id>") and git-triggered runs ("git:<author email>"); runs started otherwise
  // (the service's own stage and slot runs, WithScheduler) are not driven. A run noted before
  // keeps its first submitter (Ok, nothing written).
  Status NoteSubmitter(const std::string& run_id, const std::string& user);

  // One pass of the work the thread does (tests with a ManualClock call it directly).
  void Tick();

  // GET /runs/{id}/promotion. NotFound for a run the service does not know.
  Result<nlohmann::json> RunPromotionJson(const std::string& run_id);
  // POST /runs/{id}/approve|reject: the decision applies to every promotion of the run awaiting
  // approval. PermissionDenied (the triggerer, a wrong role), AlreadyExists (decided before),
  // FailedPrecondition (nothing awaits approval), NotFound (unknown run).
  Result<nlohmann::json> Decide(const std::string& run_id, const Actor& actor, bool approve,
                                const std::string& comment);
  // GET /environments and /environments/{env}/history.
  Result<nlohmann::json> EnvironmentsJson();
  Result<nlohmann::json> HistoryJson(const std::string& environment);
  // POST /environments/{env}/rollback|continue. Rollback of an active promotion sends all
  // traffic back to its stable version; with none active, it begins a rollback promotion that
  // brings back the version live before the last succeeded one (no approval, no ramp: started in
  // the idle slot, pre-analysed, switched). FailedPrecondition when there is nothing to go back
  // to (nothing promoted, or the last promotion did not succeed) or nothing to continue.
  Result<nlohmann::json> Rollback(const std::string& environment, const Actor& actor,
                                  const std::string& reason);
  Result<nlohmann::json> Continue(const std::string& environment, const Actor& actor);
  // POST /environments/{env}/fault (drills): every server started for `version` in the
  // environment from now on gets the fault (remembered until the environment's slots open).
  Status SetFault(const std::string& environment, const std::string& version,
                  const SlotFault& fault);

 private:
  struct RunView;  // a finished run's records, copied out of the scheduler
  Status OpenStores();
  Status ResumeStored();
  void Loop();
  void Evaluate(const std::string& run_id);
  void AdvanceRun(const std::string& run_id, nlohmann::json& record);
  bool AdvanceTarget(const std::string& run_id, const std::string& target, nlohmann::json& record);
  void SubmitStage(const std::string& run_id, const std::string& target, nlohmann::json& entry);
  void CheckStage(nlohmann::json& entry);
  void BeginPromotion(const std::string& run_id, const std::string& target, nlohmann::json& record);
  void AdvanceMachines();
  Result<nlohmann::json> RestorePrevious(const std::string& environment, const Actor& actor,
                                         const std::string& reason);
  Result<PromotionConfig> ConfigFor(const std::string& run_id);
  PromotionConfig RollbackConfig() const;  // a hand rollback: no approval, one 100 % step
  Result<EnvironmentSlots*> SlotsFor(const std::string& environment,
                                     const std::map<std::string, std::string>& tags);
  PromotionMachine* ActiveMachine(const std::string& environment);
  Status SaveRecord(const std::string& run_id, const nlohmann::json& record);
  nlohmann::json PromotionJson(const std::string& promotion_id);

  PromotionServiceOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex mu_;  // everything below
  std::unique_ptr<PromotionLedger> ledger_;
  std::unique_ptr<RunPromotionStore> store_;
  serving::SigningKeyPair key_;
  std::map<std::string, nlohmann::json> records_;                   // run id -> record (unfinished)
  std::map<std::string, std::string> submitters_;                   // run id -> user
  std::map<std::string, std::unique_ptr<EnvironmentSlots>> slots_;  // by environment
  std::map<std::string, std::unique_ptr<PromotionMachine>> machines_;  // by environment
  // Faults asked for before the environment had slots, applied when they are opened.
  std::map<std::string, std::map<std::string, SlotFault>> pending_faults_;

  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace edgefarm::coordinator
