// edgefarm-engine bench MODEL [--prompt N] [--gen N] [--threads T] [--reps R] [--json]
// Kernel path from EDGEFARM_KERNEL_PATH (auto|scalar|avx2|avx512|neon).
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "commands.h"
#include "edgefarm/engine/benchmark.h"
#include "edgefarm/engine/model.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

void PrintTable(const BenchResult& r, std::string_view model) {
  std::printf("model %.*s, %llu bytes, %d threads, kernel path %s\n",
              static_cast<int>(model.size()), model.data(),
              static_cast<unsigned long long>(r.model_bytes), r.threads, r.kernel_path.c_str());
  if (r.n_prompt > 0) {
    std::printf("pp%-5d %10.2f ± %.2f t/s\n", r.n_prompt, r.pp_tps_mean, r.pp_tps_stddev);
  }
  if (r.n_gen > 0) {
    std::printf("tg%-5d %10.2f ± %.2f t/s   latency p50 %.3f ms, p95 %.3f ms, p99 %.3f ms\n",
                r.n_gen, r.tg_tps_mean, r.tg_tps_stddev, r.latency_p50_ms, r.latency_p95_ms,
                r.latency_p99_ms);
  }
  std::printf("peak RSS %.1f MiB\n", static_cast<double>(r.peak_rss_bytes) / (1 << 20));
  if (r.energy.available) {
    std::printf("energy %.3f J over %.3f s (%.2f W, %s)\n", r.energy.joules, r.energy.seconds,
                r.energy.watts, r.energy.source.c_str());
  } else {
    std::printf("energy: not available (%s)\n", r.energy.reason.c_str());
  }
}

}  // namespace

int RunBench(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench MODEL [--prompt N] [--gen N] [--threads T] [--reps R] "
                 "[--seed S] [--json]\n");
    return 2;
  }
  BenchParams p = DefaultBenchParams();
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    long v = 0;
    if (a == "--json") {
      json = true;
    } else if (a == "--prompt" && has_value && ParseInt(argv[++i], 0, 65536, &v)) {
      p.n_prompt = static_cast<int>(v);
    } else if (a == "--gen" && has_value && ParseInt(argv[++i], 0, 65536, &v)) {
      p.n_gen = static_cast<int>(v);
    } else if (a == "--threads" && has_value && ParseInt(argv[++i], 1, 1024, &v)) {
      p.threads = static_cast<int>(v);
    } else if (a == "--reps" && has_value && ParseInt(argv[++i], 1, 10000, &v)) {
      p.reps = static_cast<int>(v);
    } else if (a == "--seed" && has_value && ParseInt(argv[++i], 0, 1L << 62, &v)) {
      p.seed = static_cast<uint64_t>(v);
    } else {
      std::fprintf(stderr, "bench: bad or incomplete argument '%s'\n", argv[i]);
      return 2;
    }
  }
  auto path = KernelPathFromEnv();
  if (!path.ok()) {
    std::fprintf(stderr, "bench: %s\n", path.status().ToString().c_str());
    return 2;
  }
  p.kernel_path = *path;
  auto model = LlamaModel::Load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "bench: %s\n", model.status().ToString().c_str());
    return 1;
  }
  auto r = RunBenchmark(**model, p);
  if (!r.ok()) {
    std::fprintf(stderr, "bench: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (json) {
    std::printf("%s\n", BenchResultJson(*r).c_str());
  } else {
    PrintTable(*r, argv[1]);
  }
  return 0;
}

}  // namespace edgefarm::engine::tools
