// WalCheckpointer: see wal_checkpointer.h.
//
// Implementation notes:
// - The background connection is opened without sqlite's connection mutex: only this thread uses
//   it after Start.
// - A checkpoint that fails (SQLITE_BUSY while the writer runs its own, or an I/O error) is not
//   retried here: the next kBackgroundFrames of growth asks again, and the writer's own checkpoint
//   at kWriterFrames bounds the WAL either way.
#include "wal_checkpointer.h"

#include <pthread.h>

namespace edgefarm::coordinator {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  // A connection opens the WAL only once it reads the database; until then a checkpoint on it is
  // a no-op.
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return IoError("cannot open " + file.string() + " for checkpoints: " + why);
  }
  std::unique_ptr<WalCheckpointer> checkpointer(new WalCheckpointer(db));
  checkpointer->thread_ = std::thread([raw = checkpointer.get()] {
    pthread_setname_np(pthread_self(), "ef-checkpoint");
    raw->Run();
  });
  return checkpointer;
}

WalCheckpointer::WalCheckpointer(sqlite3* db) : db_(db) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  sqlite3_close(db_);
}

void WalCheckpointer::Attach(sqlite3* writer) {
  sqlite3_wal_hook(writer, &WalCheckpointer::OnCommit, this);
}

int64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}

int64_t WalCheckpointer::restarts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

// Runs on the writer's thread inside each COMMIT, with the WAL's size in frames.
int WalCheckpointer::OnCommit(void* self, sqlite3* writer, const char* schema, int frames) {
  if (frames >= kWriterFrames) {
    (void)sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  // Asked every kBackgroundFrames of growth, not after every commit: a page that many commits
  // rewrite is then copied once per request rather than once per commit.
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  {
    std::lock_guard lock(checkpointer->mu_);
    if (frames < checkpointer->requested_at_) checkpointer->requested_at_ = 0;  // WAL restarted
    if (frames - checkpointer->requested_at_ < kBackgroundFrames) return SQLITE_OK;
    checkpointer->requested_at_ = frames;
    checkpointer->pending_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

bool WalCheckpointer::Checkpoint() {
  int log_frames = 0, copied = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  return rc == SQLITE_OK && copied == log_frames;
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return pending_ || stop_; });
    if (stop_) return;
    pending_ = false;
    const bool restart = requested_at_ >= kRestartFrames;
    lock.unlock();
    bool completed = Checkpoint();
    if (restart && completed) {
      // Only the frames of the commits made during the checkpoint above are left to copy.
      auto hold = CommitLock();
      completed = Checkpoint();
    }
    lock.lock();
    checkpoints_ += completed ? 1 : 0;
    restarts_ += restart && completed ? 1 : 0;
  }
}

}  // namespace edgefarm::coordinator
