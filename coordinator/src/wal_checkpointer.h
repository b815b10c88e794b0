// WalCheckpointer: copies a WAL database's committed pages back into the database file on its own
// thread and connection, so the coordinator's writer does not stop committing while a checkpoint
// reads a thousand WAL frames and writes them into the database file (those pauses were the tail
// of the dispatch latency).
//
// The writer's connection reports its WAL size after each commit (sqlite's WAL hook); every
// kBackgroundFrames of growth this thread runs a PASSIVE checkpoint, which never blocks the
// writer. But sqlite restarts the WAL from its beginning only when a write transaction finds every
// frame copied, and a writer that commits a thousand times a second always adds frames during a
// checkpoint. So once the WAL holds kRestartFrames, the thread catches up without blocking, then
// holds the writer's next commit (CommitLock) while it copies the few frames added meanwhile; the
// writer's next transaction then restarts the WAL. If the thread falls behind regardless, the
// writer checkpoints itself at kWriterFrames, so the WAL stays bounded.
//
// Internal to the sqlite adapter (sqlite_store.cc). Thread-safety: CommitLock and the hook run on
// the writer's thread, the checkpoints on the checkpointer's own.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

class WalCheckpointer {
 public:
  static constexpr int kBackgroundFrames = 1000;  // sqlite's own wal_autocheckpoint default
  static constexpr int kRestartFrames = 4000;     // 16 MiB of WAL with 4 KiB pages
  static constexpr int kWriterFrames = 32000;     // the bound if the thread falls behind

  // Opens its own connection to `file` (a database already in WAL mode) and starts the thread.
  static Result<std::unique_ptr<WalCheckpointer>> Start(const std::filesystem::path& file);
  ~WalCheckpointer();  // stops the thread (a running checkpoint finishes) and closes
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Installs the WAL hook on the writer's connection `writer` (replacing its automatic
  // checkpoints). The checkpointer must outlive the writer's connection.
  void Attach(sqlite3* writer);

  // Held by the writer around each of its transactions.
  std::unique_lock<std::mutex> CommitLock() { return std::unique_lock(commit_mu_); }

  // Checkpoints completed by the background thread so far, and WAL restarts it arranged.
  int64_t checkpoints() const;
  int64_t restarts() const;

 private:
  explicit WalCheckpointer(sqlite3* db);
  static int OnCommit(void* self, sqlite3* writer, const char* schema, int frames);
  void Run();
  bool Checkpoint();  // one PASSIVE checkpoint on the thread's connection; true if it completed

  sqlite3* db_;
  std::mutex commit_mu_;  // held by the writer's transactions and by the restart catch-up
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool pending_ = false;  // the WAL grew kBackgroundFrames since the last request
  int requested_at_ = 0;  // the WAL's size at the last request (0 after a restart of the WAL)
  bool stop_ = false;
  int64_t checkpoints_ = 0;
  int64_t restarts_ = 0;
  std::thread thread_;
};

}  // namespace edgefarm::coordinator
