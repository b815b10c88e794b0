// JobSlotControl: the coordinator's SlotControl (promotion_machine.h), whose blue and green slots
// and traffic router are long-running jobs on workers (docs/promotion.md, "Slots on workers").
//
// - A slot = a one-job run "env/<environment>/<slot>" running
//   `ENGINE serve model --port P --host H [--fault-error-rate R --fault-latency-ms L]` (a command
//   job; the model blob is its input "model", fetched by the worker like any job input) on a
//   worker whose tags include the environment's worker_tags.
// - The router = a one-job run "env/<environment>/router" running `ENGINE route --port P --host H
//   --blue URL --green URL --live SLOT --weight W --admin-token-file admin_token`, started on the
//   first Route(). Its admin token is created once (32 random bytes, hex) in
//   secrets_dir/router-<environment>.token (mode 0600, O_EXCL) and reaches the job as the input
//   file "admin_token" (a blob: anyone able to read blobs who learns its digest could read it;
//   the digest is kept only in the job record and is not shown by the API). Never logged.
// - Ports: chosen by this class (see JobSlotDeps::port_first); URLs are http://worker_host:port,
//   because the worker protocol carries no worker address (in the embedded farm every worker is
//   127.0.0.1; a farm of remote workers needs one host per environment or a protocol change).
// - Durable records (table `slots` in state_db) hold per slot its version, run/job id, port and
//   URL, and the router's job, URL and routing; a JobSlotControl opened on the same records after
//   a coordinator restart finds its running jobs and starts nothing twice.
//
// Readiness: SlotReady is true when the slot's job is running and GET /health on its URL answers
// 200 with the expected model digest. A slot job that ended while its slot should run is
// re-submitted by SlotReady up to max_restarts times per StartSlot (a port taken between the
// choice and the bind is the common cause), with a new port.
//
// Router restarts: a router job whose process was restarted (a new attempt of the same job after
// a lost worker, with its launch flags, or a new job) has lost the routing set since and its
// statistics. Route() notices a new attempt and sets everything again; Stats() compares the
// routing the router reports with the recorded one and repairs a difference (the samples lost
// with the old process are not invented: the step is judged on what the router has).
//
// Every method is idempotent. Thread-safety: every method may be called from any thread; calls
// are serialised by an internal mutex (one may wait for another's HTTP calls, at most
// http_attempts x http_timeout_ms plus short pauses per call). Never call it from inside
// with_scheduler (it takes the coordinator's lock).
// Failure: Status values; HTTP and sqlite failures never throw.
#pragma once

#include <spdlog/logger.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/promotion_machine.h"
#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

struct ServeFault {  // chaos drills and tests
  double error_rate = 0;
  int latency_ms = 0;
};

struct JobSlotDeps {
  // Runs fn with the scheduler under the coordinator's lock (Coordinator::WithScheduler).
  std::function<void(const std::function<void(Scheduler&)>&)> with_scheduler;
  const BlobStore* blobs = nullptr;  // versions are artifact digests stored here
  std::filesystem::path state_db;    // durable slot records (e.g. DATA/promotion.db, own table)
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;

  // Where router admin token files live; empty: the directory of state_db (DATA).
  std::filesystem::path secrets_dir;
  // argv[0] of the serve/route jobs on the worker: a name looked up on the worker's PATH or an
  // absolute path valid there.
  std::string engine = "edgefarm-engine";
  // The host the jobs bind (--host) and the slot URLs name (see the header comment).
  std::string worker_host = "127.0.0.1";
  // Port policy: with port_first > 0, the lowest port of [port_first, port_last] that no slot
  // record of any environment holds; with 0, a port the OS reports free on this host at that
  // moment (right for the embedded farm, whose workers share the host).
  int port_first = 0;
  int port_last = 0;
  // A service has no natural end: the job timeout only bounds a forgotten slot (30 days).
  int job_timeout_seconds = 30 * 24 * 3600;
  int serve_threads = 4;       // --threads of each serve job
  int http_timeout_ms = 5000;  // health, smoke and admin calls, per attempt
  // Attempts in all of an admin, stats or smoke call that failed in transport (refused, reset,
  // no answer in time); every call is idempotent. Readiness probes are asked once per call (the
  // machine asks again on its next tick). The machine's phase deadline bounds the whole action.
  int http_attempts = 3;
  int max_restarts = 3;
};

class JobSlotControl : public SlotControl {
 public:
  // One per environment; worker_tags = the tags a worker must have (the environment's target).
  // Opens (creating) the records and the router token file. InvalidArgument for missing deps.
  static Result<std::unique_ptr<JobSlotControl>> Open(
      std::string environment, std::map<std::string, std::string> worker_tags, JobSlotDeps deps);
  ~JobSlotControl() override;

  // Fault injected into every serve job started for `version` from now on (drills, tests).
  void SetFault(const std::string& version, ServeFault fault);
  // The router's URL; "" until the router job has answered GET /router/status (asked by Open
  // when the records name a router, and by Route).
  std::string router_url() const;
  // The URL of a slot's server ("" when nothing runs there) and its job id (tests, API).
  std::string slot_url(serving::Slot slot) const;
  std::string slot_job(serving::Slot slot) const;
  std::string router_job() const;

  // SlotControl. StartSlot: NotFound for a version not in the blob store; Ok when the version's
  // job already runs (or waits to run) in the slot; a different version there is cancelled
  // first. SlotReady: see above. PreCheck: health (with the slot's digest) and one completion
  // answered 200 with a text, straight to the slot. StopSlot: cancels the job (Ok when none).
  // Route: starts the router job when there is none, then Unavailable until it answers; once it
  // does, sets both upstreams and the routing through its admin API. Stats: the router's figures
  // for the slot (empty, i.e. inconclusive, when it cannot be asked). ResetStats: best effort.
  Status StartSlot(serving::Slot slot, const std::string& version) override;
  Result<bool> SlotReady(serving::Slot slot) override;
  Status PreCheck(serving::Slot slot) override;
  Status StopSlot(serving::Slot slot) override;
  Status Route(serving::Slot live, int candidate_weight) override;
  serving::SlotStats Stats(serving::Slot slot) override;
  void ResetStats(serving::Slot slot) override;

 private:
  struct Impl;
  explicit JobSlotControl(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefarm::coordinator
