// Throughput and latency benchmark in the manner of llama-bench, plus the process's peak memory
// and (where the hardware exposes it) the energy used.
//
// pp: a prompt of n_prompt random tokens (BOS first) in one batch from an empty cache; tg: n_gen
// single-token steps from an empty cache. Each runs once as a warm-up and then `reps` times;
// tokens/s are reported as mean and sample standard deviation over the reps, per-token latency
// percentiles over every tg step of every rep. Random tokens come from a seeded PRNG.
// Thread-safety: RunBenchmark is reentrant (it creates its own context); the figures are only
// meaningful when nothing else loads the machine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/model.h"

namespace edgefarm::engine {

// A cumulative energy counter (RAPL on Linux). Interface so tests can inject one.
class EnergyCounter {
 public:
  virtual ~EnergyCounter() = default;
  // Microjoules since an arbitrary origin; the counter may wrap at MaxMicrojoules().
  virtual Result<uint64_t> ReadMicrojoules() = 0;
  virtual uint64_t MaxMicrojoules() const = 0;
  virtual std::string Name() const = 0;
};

// The package-0 RAPL counter under `powercap_dir` (default /sys/class/powercap/intel-rapl:0).
// Errors say why it cannot be read (absent, EACCES, ...).
Result<std::unique_ptr<EnergyCounter>> OpenRaplCounter(
    const std::filesystem::path& powercap_dir = "/sys/class/powercap/intel-rapl:0");

struct EnergyReading {
  bool available = false;
  std::string reason;  // why not available
  std::string source;  // e.g. "rapl:intel-rapl:0 (package-0)"
  double joules = 0;
  double seconds = 0;
  double watts = 0;
};

// Peak resident set size of this process in bytes (VmHWM, else getrusage ru_maxrss); 0 if
// neither can be read.
uint64_t PeakRssBytes();

struct BenchParams {
  int n_prompt = 512;
  int n_gen = 128;
  int reps = 5;
  int threads = 1;
  uint64_t seed = 1234;
  KernelPath kernel_path = KernelPath::kAuto;
  bool measure_energy = true;
};
BenchParams DefaultBenchParams();

struct BenchResult {
  int n_prompt = 0, n_gen = 0, reps = 0, threads = 0;
  std::string kernel_path;
  std::vector<double> pp_tps, tg_tps;  // one per rep
  double pp_tps_mean = 0, pp_tps_stddev = 0;
  double tg_tps_mean = 0, tg_tps_stddev = 0;
  double latency_mean_ms = 0, latency_stddev_ms = 0, latency_cv = 0;
  double latency_p50_ms = 0, latency_p95_ms = 0, latency_p99_ms = 0;
  uint64_t peak_rss_bytes = 0;
  uint64_t model_bytes = 0;  // GGUF file size
  EnergyReading energy;
};

// `energy` (may be null) is read before and after the timed runs; when null and
// params.measure_energy, the RAPL counter is tried. Errors: InvalidArgument for non-positive
// sizes/reps, forward-pass errors.
Result<BenchResult> RunBenchmark(const LlamaModel& model, const BenchParams& params,
                                 EnergyCounter* energy = nullptr);

// The result as one JSON object (the `--json` output of `edgefarm-engine bench`).
std::string BenchResultJson(const BenchResult& r);

// Mean and sample standard deviation (n-1); stddev 0 for fewer than two values.
void MeanStddev(const std::vector<double>& v, double* mean, double* stddev);

}  // namespace edgefarm::engine
