// ThreadPool: every index covered exactly once, ranges respect the grain, thread indices are in
// range, and back-to-back dispatches (the generation pattern) neither lose nor repeat work.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "edgefarm/engine/thread_pool.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

void ExpectCoversOnce(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<bool> bad_range{false}, bad_thread{false};
  pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end, int thread) {
    if (begin >= end || begin < 0 || end > n) bad_range = true;
    if (end - begin < grain && end != n) bad_range = true;
    if (thread < 0 || thread >= pool.threads()) bad_thread = true;
    for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_FALSE(bad_range) << "n " << n << " grain " << grain;
  EXPECT_FALSE(bad_thread);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << n;
}

TEST(ThreadPoolTest, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n :
         {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{7}, int64_t{1000}, int64_t{100003}}) {
      for (int64_t grain : {int64_t{1}, int64_t{7}, int64_t{64}}) ExpectCoversOnce(pool, n, grain);
    }
  }
}

TEST(ThreadPoolTest, ManyBackToBackDispatchesLoseNoWork) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int i = 0; i < 20000; ++i) {
    pool.ParallelFor(64, 1, [&](int64_t b, int64_t e, int) { total.fetch_add(e - b); });
  }
  EXPECT_EQ(total.load(), 20000 * 64);
}

TEST(ThreadPoolTest, WorkersTakeChunksTheCallerLeaves) {
  ThreadPool pool(2);
  // Two chunks of one index. Whichever thread runs a chunk first holds it until the other chunk
  // has run, so the two chunks run on two different threads, and one of them is the worker. (The
  // caller cannot be assumed to run a chunk at all: a spinning worker may take both before the
  // caller starts.)
  std::atomic<int> first_thread{-1};
  std::atomic<bool> second_ran{false};
  std::atomic<bool> held_until_second{false};
  std::atomic<bool> ran_on_two_threads{false};
  pool.ParallelFor(2, 1, [&](int64_t, int64_t, int thread) {
    int none = -1;
    if (first_thread.compare_exchange_strong(none, thread)) {
      held_until_second = edgefarm::testing::WaitFor([&] { return second_ran.load(); });
    } else {
      ran_on_two_threads = thread != first_thread.load();
      second_ran = true;
    }
  });
  EXPECT_TRUE(held_until_second);
  EXPECT_TRUE(ran_on_two_threads);
}

TEST(ThreadPoolTest, DestroysCleanlyWhileIdleOrJustUsed) {
  for (int i = 0; i < 50; ++i) {
    auto pool = std::make_unique<ThreadPool>(3);
    if (i % 2) pool->ParallelFor(10, 1, [](int64_t, int64_t, int) {});
  }
}

}  // namespace
}  // namespace edgefarm::engine
