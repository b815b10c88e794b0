// A fixed pool of worker threads for data-parallel loops.
//
// ParallelFor splits [0, n) into contiguous ranges, runs them on the pool's threads plus the
// calling thread and returns when all are done. Not reentrant: one ParallelFor at a time per pool
// (the engine's forward pass is sequential between operations).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace edgefarm::engine {

class ThreadPool {
 public:
  // threads counts the caller: ThreadPool(1) runs everything on the calling thread.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const;
  // fn(begin, end, thread_index) for disjoint ranges covering [0, n); grain is the minimum range.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefarm::engine
