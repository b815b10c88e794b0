// CommitQueue (the coordinator's writer thread) over a real SqliteStore in a temp dir, wrapped
// by a store that can hold a commit at a gate or fail the next ones (fault injection).
#include "edgefarm/coordinator/commit_queue.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "edgefarm/coordinator/sqlite_store.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::WaitFor;

// Forwards to a real store. While the gate is closed a Commit waits at it (after counting itself
// as entered); fail_next makes the next commits fail without touching the database.
class GatedStore : public Store {
 public:
  explicit GatedStore(Store* real) : real_(real) {}

  Status Commit(const ChangeSet& changes) override {
    {
      std::unique_lock lock(mu_);
      ++entered_;
      cv_.wait(lock, [&] { return open_; });
      if (fail_next_ > 0) {
        --fail_next_;
        return IoError("injected: disk is full");
      }
    }
    commits_ += 1;
    return real_->Commit(changes);
  }
  Result<StoreSnapshot> Load() override { return real_->Load(); }
  Result<std::optional<RunBundle>> LoadRun(const std::string& id) override {
    return real_->LoadRun(id);
  }
  Result<std::string> RunIdOfJob(const std::string& id) override { return real_->RunIdOfJob(id); }
  Result<std::vector<RunListing>> FinishedRuns() override { return real_->FinishedRuns(); }
  Result<std::vector<EventRecord>> Events(int64_t after, int limit) override {
    return real_->Events(after, limit);
  }
  int SchemaVersion() const override { return real_->SchemaVersion(); }
  int64_t TransactionsCommitted() const override { return real_->TransactionsCommitted(); }

  void SetOpen(bool open) {
    std::lock_guard lock(mu_);
    open_ = open;
    cv_.notify_all();
  }
  void FailNext(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  int commits() const { return commits_; }

 private:
  Store* real_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int fail_next_ = 0;
  int entered_ = 0;
  std::atomic<int> commits_{0};
};

WorkerRecord Worker(const std::string& id, int64_t last_seen_ms) {
  WorkerRecord w;
  w.id = id;
  w.name = id;
  w.slots = 4;
  w.last_seen_ms = last_seen_ms;
  return w;
}

Outbound Message(const std::string& identity, const std::string& job_id) {
  Outbound out;
  out.identity = identity;
  out.envelope.mutable_cancel()->set_job_id(job_id);
  return out;
}

CommitBatch Batch(std::vector<WorkerRecord> workers, std::vector<Outbound> released) {
  CommitBatch batch;
  batch.changes.workers = std::move(workers);
  batch.released = std::move(released);
  return batch;
}

std::vector<std::string> JobIds(const std::vector<Outbound>& released) {
  std::vector<std::string> out;
  for (const auto& m : released) out.push_back(m.envelope.cancel().job_id());
  return out;
}

class CommitQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_ / "c.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    real_ = std::move(*store);
    gated_ = std::make_unique<GatedStore>(real_.get());
    queue_ = std::make_unique<CommitQueue>(
        gated_.get(), [this] { wakes_ += 1; },
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()),
        std::chrono::milliseconds(1));
  }
  void TearDown() override {
    gated_->SetOpen(true);
    queue_->Stop();
  }

  std::vector<WorkerRecord> StoredWorkers() {
    auto snapshot = real_->Load();
    EXPECT_TRUE(snapshot.ok());
    return snapshot.ok() ? snapshot->workers : std::vector<WorkerRecord>{};
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> real_;
  std::unique_ptr<GatedStore> gated_;
  std::unique_ptr<CommitQueue> queue_;
  std::atomic<int> wakes_{0};
};

TEST_F(CommitQueueTest, ReleasesMessagesOnlyAfterTheirBatchCommittedAndInOrder) {
  gated_->SetOpen(false);
  EXPECT_EQ(queue_->Submit(Batch({Worker("w1", 1)}, {Message("w1", "a")})), 1u);
  ASSERT_TRUE(WaitFor([&] { return gated_->entered() == 1; }));  // batch 1 is being committed
  EXPECT_EQ(queue_->Submit(Batch({Worker("w2", 2)}, {Message("w2", "b")})), 2u);
  EXPECT_EQ(queue_->Submit(Batch({}, {Message("w1", "c")})), 3u);
  EXPECT_TRUE(queue_->TakeReleased().empty());
  EXPECT_EQ(queue_->committed(), 0u);
  EXPECT_EQ(queue_->Wait(1, std::chrono::milliseconds(1)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(StoredWorkers().empty());

  gated_->SetOpen(true);
  ASSERT_TRUE(queue_->Wait(3, std::chrono::seconds(60)).ok());
  EXPECT_EQ(JobIds(queue_->TakeReleased()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(StoredWorkers().size(), 2u);
  // Batches 2 and 3 were queued while 1 committed: they went in one transaction together.
  EXPECT_EQ(gated_->commits(), 2);
  EXPECT_GE(wakes_.load(), 1);
}

TEST_F(CommitQueueTest, AFailedCommitIsNotAcknowledgedAndIsRetriedBeforeLaterBatches) {
  gated_->FailNext(1000000);  // until healed below
  const uint64_t first = queue_->Submit(Batch({Worker("w1", 1)}, {Message("w1", "a")}));
  Status failed = queue_->Wait(first, std::chrono::seconds(60));
  EXPECT_EQ(failed.code(), StatusCode::kIoError);
  EXPECT_NE(failed.message().find("disk is full"), std::string::npos);
  EXPECT_TRUE(queue_->TakeReleased().empty());
  EXPECT_GE(queue_->failed_commits(), 1);
  EXPECT_EQ(queue_->committed(), 0u);

  // A later batch is never committed ahead of the failed one; both land, in order.
  const uint64_t second = queue_->Submit(Batch({Worker("w1", 2)}, {Message("w1", "b")}));
  EXPECT_EQ(queue_->Wait(second, std::chrono::seconds(60)).code(), StatusCode::kIoError);
  EXPECT_TRUE(queue_->TakeReleased().empty());
  gated_->FailNext(0);
  ASSERT_TRUE(
      queue_->Wait(second, std::chrono::seconds(60), CommitQueue::OnFailure::kKeepWaiting).ok());
  EXPECT_EQ(JobIds(queue_->TakeReleased()), (std::vector<std::string>{"a", "b"}));
  auto workers = StoredWorkers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].last_seen_ms, 2);  // the later row won
}

TEST_F(CommitQueueTest, ARetryCarriesAnInsertAndTheUpdateQueuedBehindIt) {
  gated_->SetOpen(false);
  gated_->FailNext(1);
  RunRecord run;
  run.id = "run-1";
  run.name = "r";
  run.state = RunState::kQueued;
  JobRecord job;
  job.id = "run-1-0";
  job.run_id = "run-1";
  job.name = "j";
  job.state = JobState::kQueued;
  CommitBatch insert;
  insert.changes.runs = {run};
  insert.changes.jobs = {job};
  queue_->Submit(std::move(insert));
  ASSERT_TRUE(WaitFor([&] { return gated_->entered() == 1; }));
  job.state = JobState::kAssigned;
  job.attempt = 1;
  job.worker_id = "w1";
  CommitBatch update;
  update.changes.job_progress = {ProgressOf(job)};
  update.changes.run_states = {{"run-1", RunState::kRunning, 0}};
  update.released = {Message("w1", "run-1-0")};
  const uint64_t seq = queue_->Submit(std::move(update));
  gated_->SetOpen(true);  // the first attempt (the insert alone) fails, the merged retry lands
  ASSERT_TRUE(
      queue_->Wait(seq, std::chrono::seconds(60), CommitQueue::OnFailure::kKeepWaiting).ok());
  auto bundle = real_->LoadRun("run-1");
  ASSERT_TRUE(bundle.ok() && bundle->has_value());
  EXPECT_EQ((*bundle)->run.state, RunState::kRunning);
  ASSERT_EQ((*bundle)->jobs.size(), 1u);
  EXPECT_EQ((*bundle)->jobs[0].state, JobState::kAssigned);
  EXPECT_EQ((*bundle)->jobs[0].worker_id, "w1");
  EXPECT_EQ(JobIds(queue_->TakeReleased()), (std::vector<std::string>{"run-1-0"}));
}

TEST_F(CommitQueueTest, StopCommitsWhatIsQueuedAndRefusesWaitsForLaterBatches) {
  const uint64_t seq = queue_->Submit(Batch({Worker("w1", 1)}, {}));
  queue_->Stop();
  EXPECT_TRUE(queue_->Wait(seq, std::chrono::seconds(60)).ok());
  EXPECT_EQ(StoredWorkers().size(), 1u);
  EXPECT_EQ(queue_->Wait(seq + 1, std::chrono::seconds(60)).code(), StatusCode::kUnavailable);
}

TEST_F(CommitQueueTest, AFailingStoreAtStopLeavesTheBatchUnacknowledged) {
  gated_->FailNext(100);
  const uint64_t seq = queue_->Submit(Batch({Worker("w1", 1)}, {Message("w1", "a")}));
  queue_->Stop();
  EXPECT_EQ(
      queue_->Wait(seq, std::chrono::seconds(60), CommitQueue::OnFailure::kKeepWaiting).code(),
      StatusCode::kUnavailable);
  EXPECT_TRUE(queue_->TakeReleased().empty());
  EXPECT_TRUE(StoredWorkers().empty());
}

}  // namespace
}  // namespace edgefarm::coordinator
