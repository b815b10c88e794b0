// The promotion ledger and the durable promotion records, in their own sqlite file
// (DATA/promotion.db; docs/promotion.md describes the tables).
//
// The ledger is append-only: sqlite triggers refuse UPDATE and DELETE on it, so history cannot be
// rewritten even by a bug here. A promotion record is the whole state of one promotion (JSON,
// PromotionState) keyed by its id; Commit() replaces it and appends ledger entries in one
// transaction, durable when it returns, so a transition is on disk before it is acted on.
//
// Thread-safety: none; the owner serialises calls. Failure: Status values; nothing throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct LedgerEntry {
  int64_t id = 0;  // assigned by the store
  int64_t at_ms = 0;
  std::string environment;
  std::string promotion_id;
  // "promotion.requested", "approval", "state", "analysis", "live", "rollback", ...
  std::string kind;
  std::string slot;     // "blue" | "green" | ""
  std::string version;  // artifact digest the entry is about; "" when none
  std::string actor;    // a user, or "coordinator" for automatic decisions
  std::string detail;   // JSON object: evidence, analysis result, reason
};

struct PromotionRow {
  std::string id;
  std::string environment;
  std::string state_json;  // PromotionStateToJson
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

class PromotionLedger {
 public:
  // Opens or creates the file; WAL mode with synchronous=FULL.
  static Result<std::unique_ptr<PromotionLedger>> Open(const std::filesystem::path& path);
  virtual ~PromotionLedger() = default;

  // Replaces the promotion row (when row.id is non-empty) and appends entries, in one transaction.
  virtual Status Commit(const PromotionRow& row, const std::vector<LedgerEntry>& entries) = 0;
  virtual Result<std::vector<PromotionRow>> Promotions(const std::string& environment) = 0;
  virtual Result<std::optional<PromotionRow>> Promotion(const std::string& id) = 0;
  // Oldest first; every environment when environment is empty.
  virtual Result<std::vector<LedgerEntry>> History(const std::string& environment) = 0;
  virtual Result<std::vector<std::string>> Environments() = 0;
};

}  // namespace edgefarm::coordinator
