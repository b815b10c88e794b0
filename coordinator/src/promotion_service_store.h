// Internal to PromotionService: the durable per-run promotion records (table run_promotions in
// DATA/promotion.db, next to the ledger; docs/storage.md). A record is the run's evaluation and
// staging progress as one JSON object, replaced whole on every change.
//
// Thread-safety: none; PromotionService serialises calls. Failure: IoError values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct RunPromotionRow {
  std::string run_id;
  std::string submitter;    // who submitted the run ("" when unknown)
  std::string record_json;  // "" while the run is not evaluated yet
  bool done = false;        // nothing more to do for this run
  int64_t updated_at_ms = 0;
};

class RunPromotionStore {
 public:
  // Opens or creates the table in the sqlite file at path (WAL, synchronous=FULL).
  static Result<std::unique_ptr<RunPromotionStore>> Open(const std::filesystem::path& path);
  virtual ~RunPromotionStore() = default;

  // Inserts or replaces the row, durable when it returns.
  virtual Status Put(const RunPromotionRow& row) = 0;
  virtual Result<std::optional<RunPromotionRow>> Get(const std::string& run_id) = 0;
  // Rows not marked done (the work to resume after a restart).
  virtual Result<std::vector<RunPromotionRow>> Pending() = 0;
};

}  // namespace edgefarm::coordinator
