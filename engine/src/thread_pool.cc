// ThreadPool: persistent workers woken by a generation counter.
//
// Token generation calls ParallelFor ~30 times per token on small matrices, so a dispatch must cost
// microseconds, not a condition-variable round trip. The caller publishes a job and bumps
// `generation_`; workers spin on it for a short while (a few tens of microseconds) and only then
// block in std::atomic::wait (a futex on Linux). Work is handed out in chunks from an atomic
// cursor, so a thread that was descheduled (2 cores shared with other processes) does not hold
// the others back. The caller works too; when the cursor runs out it closes the job and waits
// only for helpers that actually joined it (spin, then block) — never for a helper that has not
// woken up yet, which on an oversubscribed machine can take a whole scheduler time slice.
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
  // Bits of `job`: the job's generation (high 32), whether it still admits helpers, and the
  // count of helpers inside it (low 31). A helper joins only the open job of the generation it
  // was woken for, so the caller never waits for a thread that has not started: a helper that the
  // OS schedules late finds the job closed and goes back to waiting.
  static constexpr uint64_t kOpen = uint64_t{1} << 31;
  static constexpr uint64_t kCountMask = kOpen - 1;

  int threads = 1;
  std::vector<std::thread> workers;

  // The current job, written by the caller before `generation` is bumped.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  int64_t chunk = 1;
  alignas(64) std::atomic<int64_t> cursor{0};
  alignas(64) std::atomic<uint64_t> generation{0};
  alignas(64) std::atomic<uint64_t> job{0};
  std::atomic<bool> stop{false};

  void RunChunks(int thread_index) {
    for (;;) {
      const int64_t begin = cursor.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      (*fn)(begin, std::min(n, begin + chunk), thread_index);
    }
  }

  // Joins job `gen` if it is still open; returns whether it did.
  bool TryJoin(uint64_t gen) {
    uint64_t s = job.load(std::memory_order_acquire);
    while ((s >> 32) == (gen & 0xffffffffu) && (s & kOpen) != 0) {
      if (job.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  void Leave() {
    const uint64_t before = job.fetch_sub(1, std::memory_order_acq_rel);
    if ((before & kCountMask) == 1 && (before & kOpen) == 0) job.notify_all();
  }

  void WorkerLoop(int thread_index) {
    uint64_t seen = 0;
    for (;;) {
      SpinThenWait(generation, seen);
      seen = generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      if (TryJoin(seen)) {
        RunChunks(thread_index);
        Leave();
      }
    }
  }

  // Closes the job to newcomers and waits for the helpers inside it to finish their chunks.
  void CloseAndWait() {
    uint64_t s = job.fetch_and(~kOpen, std::memory_order_acq_rel) & ~kOpen;
    while ((s & kCountMask) != 0) {
      SpinThenWait(job, s);
      s = job.load(std::memory_order_acquire);
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
  s.fn = &fn;
  s.n = n;
  s.chunk = std::max(grain, (per_thread + 3) / 4);
  s.cursor.store(0, std::memory_order_relaxed);
  const uint64_t gen = s.generation.load(std::memory_order_relaxed) + 1;
  s.job.store(((gen & 0xffffffffu) << 32) | Impl::kOpen, std::memory_order_release);
  s.generation.store(gen, std::memory_order_release);
  s.generation.notify_all();
  s.RunChunks(0);
  s.CloseAndWait();
  s.fn = nullptr;
}

}  // namespace edgefarm::engine
