// Durable records of the long-running slot jobs of each environment (JobSlotControl): which
// version runs in which slot, as which job, at which URL, and the environment's router job with
// its routing. Internal to edgefarm_coordinator_slots; the sqlite adapter is
// slot_records_sqlite.cc.
//
// One row per (environment, name), name being "blue", "green" or "router". A row is written
// before the job it describes is submitted (with an empty job id) and again with the job id right
// after, so a crash in between leaves a marker that recovery resolves by run name instead of
// starting a second job.
//
// Thread-safety: none; one owner per store. Failure: IoError/DataLoss values from sqlite.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct SlotRecord {
  std::string environment;
  std::string name;     // "blue" | "green" | "router"
  std::string version;  // artifact digest served; "" for the router or a stopped slot
  std::string run_id;   // "" before the submission is known
  std::string job_id;
  int port = 0;
  std::string url;    // "http://HOST:PORT"; "" when nothing should run
  std::string fault;  // fault flags the serve job was started with, as JSON ("" = none)
  int restarts = 0;   // jobs re-submitted for this start after the previous one ended
  std::string live;   // router only: the live slot
  int weight = 0;     // router only: the candidate weight
  int64_t updated_at_ms = 0;
};

class SlotRecordStore {
 public:
  virtual ~SlotRecordStore() = default;
  // Opens (creating) the `slots` table in the sqlite file at `path` (WAL, synchronous=FULL).
  static Result<std::unique_ptr<SlotRecordStore>> Open(const std::filesystem::path& path);

  virtual Result<std::optional<SlotRecord>> Load(const std::string& environment,
                                                 const std::string& name) = 0;
  // Inserts or replaces the row (environment, name); committed when it returns.
  virtual Status Save(const SlotRecord& record) = 0;
  // Ports held by any row of any environment whose url is set (the port policy avoids them).
  virtual Result<std::set<int>> PortsInUse() = 0;
};

}  // namespace edgefarm::coordinator
