// MatMul throughput per weight type, kernel path and shape: matvec (one token, like generation)
// and matmul (512 tokens, like prompt processing). Reports weight GB/s (bytes of the weight
// matrix streamed per call) and GFLOP/s (2 * rows * cols * tokens). Threads: EDGEFARM_THREADS
// (default 2, like the llama.cpp comparison); EDGEFARM_BENCH_CPU_TIME below. Filter with
// --benchmark_filter, e.g. 'Q4_0.*avx512'.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "edgefarm/engine/matmul.h"
#include "edgefarm/engine/quant.h"
#include "edgefarm/engine/tensor_types.h"
#include "edgefarm/engine/thread_pool.h"

namespace edgefarm::engine {
namespace {

int Threads() {
  const char* env = std::getenv("EDGEFARM_THREADS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 2;
}

// EDGEFARM_BENCH_CPU_TIME=1: rates from the main thread's CPU time instead of wall time. On a
// shared, oversubscribed machine with EDGEFARM_THREADS=1 this approximates an idle core.
bool CpuTimeRates() {
  const char* env = std::getenv("EDGEFARM_BENCH_CPU_TIME");
  return env != nullptr && std::string(env) == "1";
}

ThreadPool& Pool() {
  static ThreadPool pool(Threads());
  return pool;
}

struct Weights {
  std::vector<uint8_t> data;
  WeightView view;
};

Weights MakeWeights(TensorType type, int64_t rows, int64_t cols) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> row(cols);
  Weights w;
  const size_t stride = RowBytes(type, cols);
  w.data.resize(stride * rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = normal(rng);
    QuantizeRow(type, row.data(), w.data.data() + r * stride, cols);
  }
  w.view = {type, rows, cols, w.data.data(), stride};
  return w;
}

void BM_MatMul(benchmark::State& state, TensorType type, KernelPath path, int64_t rows,
               int64_t cols, int64_t tokens) {
  if (!KernelPathSupported(path)) {
    state.SkipWithError("path not supported on this CPU");
    return;
  }
  const Weights w = MakeWeights(type, rows, cols);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(tokens * cols), out(tokens * rows);
  for (float& v : x) v = normal(rng);
  for (auto _ : state) {
    MatMul(w.view, x.data(), tokens, out.data(), &Pool(), path);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(w.data.size());
  const double flops = 2.0 * static_cast<double>(rows * cols * tokens);
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = Pool().threads();
}

struct Shape {
  int64_t rows, cols;
};

void RegisterAll() {
  const TensorType types[] = {TensorType::kF32,         TensorType::kF16,
                              TensorType::kQ8_0,        TensorType::kQ4_0,
                              TensorType::kQ5_0,        TensorType::kQ4_K,
                              TensorType::kQ6_K,        TensorType::kEfI8SymPerChannel,
                              TensorType::kEfI4SymG128, TensorType::kEfI4AffineG64};
  const Shape shapes[] = {{256, 256}, {768, 256}, {32000, 256}};
  const KernelPath paths[] = {KernelPath::kScalar, KernelPath::kAvx2, KernelPath::kAvx512,
                              KernelPath::kNeon};
  for (TensorType type : types) {
    const std::string tname(GetTypeTraits(type)->name);
    for (const Shape& s : shapes) {
      for (KernelPath path : paths) {
        // NEON exists only on AArch64; on x86 it would just add skip lines to the output.
        if (path == KernelPath::kNeon && !KernelPathSupported(path)) continue;
        for (int64_t tokens : {int64_t{1}, int64_t{512}}) {
          // The scalar reference is far too slow for the big prompt shapes; one is enough.
          if (path == KernelPath::kScalar && tokens > 1 && s.rows > 256) continue;
          const std::string name = "MatMul/" + tname + "/" + std::string(KernelPathName(path)) +
                                   "/" + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                                   (tokens == 1 ? "/matvec" : "/pp512");
          auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_MatMul, type, path, s.rows,
                                                 s.cols, tokens);
          b->Unit(benchmark::kMicrosecond)->MinTime(0.2);
          if (!CpuTimeRates()) b->UseRealTime();
        }
      }
    }
  }
}

}  // namespace
}  // namespace edgefarm::engine

int main(int argc, char** argv) {
  edgefarm::engine::RegisterAll();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
