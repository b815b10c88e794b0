// ThreadPool: persistent workers woken by a generation counter.
//
// Token generation calls ParallelFor ~30 times per token on small matrices, so a dispatch must cost
// microseconds, not a condition-variable round trip. The caller publishes a job and bumps
// `generation_`; workers spin on it for a short while (a few tens of microseconds) and only then
// block in std::atomic::wait (a futex on Linux). Work is handed out in chunks from an atomic
// cursor, so a thread that was descheduled (2 cores shared with other processes) does not hold
// the others back. The caller works too and then waits for `pending_` to drop to zero the same
// way: spin, then block.
#include "edgefarm/engine/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EF_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define EF_CPU_RELAX() asm volatile("yield")
#else
#define EF_CPU_RELAX() \
  do {                 \
  } while (0)
#endif

namespace edgefarm::engine {
namespace {

// Polling budget: long enough to cover the gap between two matmuls of one token (a few us),
// short enough not to steal a shared core for long. Measured in time, not iterations, because
// PAUSE costs anything from 10 to 150 cycles depending on the microarchitecture.
constexpr auto kSpinTime = std::chrono::microseconds(50);

template <typename T>
void SpinThenWait(const std::atomic<T>& value, T old) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0;; ++i) {
    if (value.load(std::memory_order_acquire) != old) return;
    EF_CPU_RELAX();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) break;
  }
  while (value.load(std::memory_order_acquire) == old) value.wait(old, std::memory_order_acquire);
}

}  // namespace

struct ThreadPool::Impl {
  int threads = 1;
  std::vector<std::thread> workers;

  // The current job, written by the caller before `generation` is bumped.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  int64_t chunk = 1;
  alignas(64) std::atomic<int64_t> cursor{0};
  alignas(64) std::atomic<uint64_t> generation{0};
  alignas(64) std::atomic<int> pending{0};
  std::atomic<bool> stop{false};

  void RunChunks(int thread_index) {
    for (;;) {
      const int64_t begin = cursor.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      (*fn)(begin, std::min(n, begin + chunk), thread_index);
    }
  }

  void WorkerLoop(int thread_index) {
    uint64_t seen = 0;
    for (;;) {
      SpinThenWait(generation, seen);
      seen = generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      RunChunks(thread_index);
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) pending.notify_one();
    }
  }
};

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>()) {
  impl_->threads = std::max(1, threads);
  for (int i = 1; i < impl_->threads; ++i) {
    impl_->workers.emplace_back([this, i] { impl_->WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  impl_->stop.store(true, std::memory_order_release);
  impl_->generation.fetch_add(1, std::memory_order_acq_rel);
  impl_->generation.notify_all();
  for (auto& t : impl_->workers) t.join();
}

int ThreadPool::threads() const {
  return impl_->threads;
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  Impl& s = *impl_;
  if (s.threads == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  // A few chunks per thread balances load when a core is busy elsewhere, while keeping each
  // thread's rows mostly contiguous.
  const int64_t per_thread = (n + s.threads - 1) / s.threads;
  int64_t chunk = std::max(grain, (per_thread + 3) / 4);
  s.fn = &fn;
  s.n = n;
  s.chunk = chunk;
  s.cursor.store(0, std::memory_order_relaxed);
  s.pending.store(s.threads - 1, std::memory_order_relaxed);
  s.generation.fetch_add(1, std::memory_order_acq_rel);
  s.generation.notify_all();
  s.RunChunks(0);
  for (int v = s.pending.load(std::memory_order_acquire); v != 0;
       v = s.pending.load(std::memory_order_acquire)) {
    SpinThenWait(s.pending, v);
  }
  s.fn = nullptr;
}

}  // namespace edgefarm::engine
