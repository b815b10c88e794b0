// The control plane's durable state, beside the scheduler's: API tokens (hashed), the append-only
// audit log, registered repositories, webhook deliveries (for de-duplication), the provenance of
// runs started by a trigger (repo, ref, commit, author, message) and the branch tips the poller
// last saw. One sqlite file, DATA/control.db (mode 0600: it holds webhook secrets), with its own
// schema version; docs/storage.md describes it.
//
// Kept apart from coordinator.db so the scheduler's hot path never waits on trigger work and the
// two schemas evolve independently. Thread-safety: every method is safe from many threads (one
// connection behind a mutex). Failure: IoError for sqlite errors; nothing throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

struct sqlite3;

namespace edgefarm::coordinator {

struct ApiTokenRecord {
  std::string sha256;
  std::string role;
  std::string name;
  int64_t created_at_ms = 0;
};

struct AuditRecord {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor;  // token id and name, "webhook:github", or "anonymous"
  std::string role;
  std::string method;
  std::string path;
  std::string remote;  // client address
  int status = 0;
};

// A registered repository. Secrets are either inline (webhook_secret, stored here and never
// returned) or referenced by environment variable / file name, resolved when used.
struct RepoRecord {
  std::string name;                   // [A-Za-z0-9._-]+, the mirror's directory name
  std::string url;                    // URL or local path libgit2 can fetch from
  std::vector<std::string> branches;  // extra branch globs on top of the pipeline's
  std::string pipeline_file = ".edgefarm.yml";
  std::string webhook_secret;
  std::string webhook_secret_env;
  std::string webhook_secret_file;
  std::string credential_env;  // "user:password" or a token for HTTPS fetches
  std::string credential_file;
  int64_t poll_interval_s = 0;  // 0: webhooks only
  int64_t created_at_ms = 0;
};

struct DeliveryRecord {
  std::string id;  // "<provider>:<delivery id>"
  std::string provider;
  std::string repo;
  std::string ref;
  std::string before;
  std::string after;
  bool forced = false;
  std::string state;  // queued, started, skipped, failed
  std::string detail;
  std::string run_id;
  int64_t received_at_ms = 0;
};

struct TriggeredRun {
  std::string run_id;
  std::string repo;
  std::string ref;
  std::string commit;
  std::string pipeline_file;
  std::string author;
  std::string message;
  std::string delivery_id;
  int64_t at_ms = 0;
};

class ControlStore {
 public:
  static constexpr int kSchemaVersion = 1;

  static Result<std::unique_ptr<ControlStore>> Open(const std::filesystem::path& file);
  ~ControlStore();
  ControlStore(const ControlStore&) = delete;
  ControlStore& operator=(const ControlStore&) = delete;

  Status AddToken(const ApiTokenRecord& token);
  Result<std::vector<ApiTokenRecord>> Tokens();

  Status AppendAudit(const AuditRecord& record);
  // Entries with id > after_id, oldest first, at most limit.
  Result<std::vector<AuditRecord>> Audit(int64_t after_id, int limit);

  // Inserts or replaces by name.
  Status PutRepo(const RepoRecord& repo);
  Result<std::vector<RepoRecord>> Repos();
  Result<std::optional<RepoRecord>> FindRepo(const std::string& name);

  // Inserts a delivery; false (and nothing written) when its id was seen before.
  Result<bool> InsertDelivery(const DeliveryRecord& delivery);
  Status UpdateDelivery(const std::string& id, const std::string& state, const std::string& detail,
                        const std::string& run_id);
  // Deliveries still queued (accepted before a restart, not yet worked on).
  Result<std::vector<DeliveryRecord>> QueuedDeliveries();
  Result<std::optional<DeliveryRecord>> FindDelivery(const std::string& id);

  Status AddTriggeredRun(const TriggeredRun& run);
  // The run already started for this repo, commit and pipeline file, if any.
  Result<std::optional<std::string>> RunForCommit(const std::string& repo,
                                                  const std::string& commit,
                                                  const std::string& pipeline_file);
  Result<std::optional<TriggeredRun>> TriggerOf(const std::string& run_id);

  Result<std::optional<std::string>> PollTip(const std::string& repo, const std::string& ref);
  Status SetPollTip(const std::string& repo, const std::string& ref, const std::string& commit);

 private:
  explicit ControlStore(sqlite3* db) : db_(db) {}
  Status Migrate();

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace edgefarm::coordinator
