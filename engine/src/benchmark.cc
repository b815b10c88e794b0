// llama-bench-style measurement: warm-up + timed reps of pp and tg from an empty cache.
//
// Each rep creates no new context: positions restart at 0 and overwrite the KV cache, which is
// exactly an empty cache for causal attention. Token generation feeds random tokens (as
// llama-bench does) so the figures do not depend on what the model predicts.
#include "edgefarm/engine/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "edgefarm/engine/tokenizer.h"

namespace edgefarm::engine {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double Percentile(std::vector<double> v, double fraction) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double p = fraction * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(p);
  const double f = p - static_cast<double>(i);
  return (1 - f) * v[i] + f * v[std::min(i + 1, v.size() - 1)];
}

class Runner {
 public:
  Runner(const LlamaModel& model, LlamaContext& ctx, uint64_t seed)
      : model_(model), ctx_(ctx), rng_(seed) {}

  int32_t RandomToken() {
    return std::uniform_int_distribution<int32_t>(0, model_.hparams().n_vocab - 1)(rng_);
  }

  // Seconds for a prompt of n tokens, batched by the context's n_batch.
  Result<double> Prompt(int n) {
    prompt_.resize(static_cast<size_t>(n));
    prompt_[0] = model_.tokenizer().bos();
    for (int i = 1; i < n; ++i) prompt_[static_cast<size_t>(i)] = RandomToken();
    const auto start = SteadyClock::now();
    for (int p = 0; p < n; p += ctx_.n_batch()) {
      const int len = std::min(ctx_.n_batch(), n - p);
      EF_RETURN_IF_ERROR(
          ctx_.Forward(std::span(prompt_).subspan(static_cast<size_t>(p), static_cast<size_t>(len)),
                       p, LogitsMode::kLast)
              .status());
    }
    return Seconds(SteadyClock::now() - start);
  }

  // Seconds for n single-token steps; appends each step's latency in ms to `latencies`.
  Result<double> Generate(int n, std::vector<double>* latencies) {
    int32_t token = model_.tokenizer().bos();
    const auto start = SteadyClock::now();
    for (int i = 0; i < n; ++i) {
      const auto t0 = SteadyClock::now();
      const int32_t one[] = {token};
      EF_RETURN_IF_ERROR(ctx_.Forward(one, i, LogitsMode::kLast).status());
      if (latencies) latencies->push_back(Seconds(SteadyClock::now() - t0) * 1e3);
      token = RandomToken();
    }
    return Seconds(SteadyClock::now() - start);
  }

 private:
  const LlamaModel& model_;
  LlamaContext& ctx_;
  std::mt19937_64 rng_;
  std::vector<int32_t> prompt_;
};

EnergyReading FinishEnergy(EnergyCounter* counter, Result<uint64_t> before, double seconds) {
  EnergyReading e;
  if (counter == nullptr) return e;
  const Result<uint64_t> after = counter->ReadMicrojoules();
  if (!before.ok() || !after.ok()) {
    e.reason = (!before.ok() ? before.status() : after.status()).message();
    return e;
  }
  uint64_t delta = *after - *before;
  if (*after < *before) delta = counter->MaxMicrojoules() - *before + *after;  // wrapped
  e.available = true;
  e.source = counter->Name();
  e.joules = static_cast<double>(delta) * 1e-6;
  e.seconds = seconds;
  e.watts = seconds > 0 ? e.joules / seconds : 0;
  return e;
}

Status TimedReps(Runner& runner, const BenchParams& params, BenchResult* r,
                 std::vector<double>* latencies) {
  for (int rep = 0; rep < params.reps; ++rep) {
    if (params.n_prompt > 0) {
      EF_ASSIGN_OR_RETURN(double s, runner.Prompt(params.n_prompt));
      r->pp_tps.push_back(params.n_prompt / s);
    }
    if (params.n_gen > 0) {
      EF_ASSIGN_OR_RETURN(double s, runner.Generate(params.n_gen, latencies));
      r->tg_tps.push_back(params.n_gen / s);
    }
  }
  return Status::Ok();
}

void Summarise(const std::vector<double>& latencies, BenchResult* r) {
  MeanStddev(r->pp_tps, &r->pp_tps_mean, &r->pp_tps_stddev);
  MeanStddev(r->tg_tps, &r->tg_tps_mean, &r->tg_tps_stddev);
  MeanStddev(latencies, &r->latency_mean_ms, &r->latency_stddev_ms);
  r->latency_cv = r->latency_mean_ms > 0 ? r->latency_stddev_ms / r->latency_mean_ms : 0;
  r->latency_p50_ms = Percentile(latencies, 0.50);
  r->latency_p95_ms = Percentile(latencies, 0.95);
  r->latency_p99_ms = Percentile(latencies, 0.99);
}

}  // namespace

BenchParams DefaultBenchParams() {
  return BenchParams{};
}

void MeanStddev(const std::vector<double>& v, double* mean, double* stddev) {
  *mean = 0;
  *stddev = 0;
  if (v.empty()) return;
  for (double x : v) *mean += x;
  *mean /= static_cast<double>(v.size());
  if (v.size() < 2) return;
  double ss = 0;
  for (double x : v) ss += (x - *mean) * (x - *mean);
  *stddev = std::sqrt(ss / static_cast<double>(v.size() - 1));
}

Result<BenchResult> RunBenchmark(const LlamaModel& model, const BenchParams& params,
                                 EnergyCounter* energy) {
  if (params.n_prompt < 0 || params.n_gen < 0 || params.n_prompt + params.n_gen == 0 ||
      params.reps < 1) {
    return InvalidArgument("benchmark needs prompt or gen tokens and at least one rep");
  }
  ContextParams cp = DefaultContextParams();
  cp.n_ctx = std::max({params.n_prompt, params.n_gen, 1});
  cp.n_batch = std::max(params.n_prompt, 1);
  cp.threads = params.threads;
  cp.kernel_path = params.kernel_path;
  EF_ASSIGN_OR_RETURN(std::unique_ptr<LlamaContext> ctx, LlamaContext::Create(model, cp));
  Runner runner(model, *ctx, params.seed);

  std::unique_ptr<EnergyCounter> rapl;
  std::string energy_reason = "not requested";
  if (energy == nullptr && params.measure_energy) {
    auto opened = OpenRaplCounter();
    if (opened.ok()) {
      rapl = std::move(*opened);
      energy = rapl.get();
    } else {
      energy_reason = opened.status().message();
    }
  }
  BenchResult r;
  r.n_prompt = params.n_prompt;
  r.n_gen = params.n_gen;
  r.reps = params.reps;
  r.threads = params.threads;
  r.kernel_path = std::string(KernelPathName(
      params.kernel_path == KernelPath::kAuto ? DetectKernelPath() : params.kernel_path));
  if (params.n_prompt > 0) EF_RETURN_IF_ERROR(runner.Prompt(params.n_prompt).status());  // warm-up
  if (params.n_gen > 0) EF_RETURN_IF_ERROR(runner.Generate(params.n_gen, nullptr).status());

  const Result<uint64_t> e_before =
      energy ? energy->ReadMicrojoules() : Result<uint64_t>(Unavailable("no counter"));
  const auto start = SteadyClock::now();
  std::vector<double> latencies;
  EF_RETURN_IF_ERROR(TimedReps(runner, params, &r, &latencies));
  if (energy != nullptr) {
    r.energy = FinishEnergy(energy, e_before, Seconds(SteadyClock::now() - start));
  } else {
    r.energy.reason = energy_reason;
  }
  Summarise(latencies, &r);
  r.peak_rss_bytes = PeakRssBytes();
  r.model_bytes = model.file_bytes();
  return r;
}

std::string BenchResultJson(const BenchResult& r) {
  nlohmann::json j = {{"n_prompt", r.n_prompt},
                      {"n_gen", r.n_gen},
                      {"reps", r.reps},
                      {"threads", r.threads},
                      {"kernel_path", r.kernel_path},
                      {"pp_tps", r.pp_tps},
                      {"tg_tps", r.tg_tps},
                      {"pp_tps_mean", r.pp_tps_mean},
                      {"pp_tps_stddev", r.pp_tps_stddev},
                      {"tg_tps_mean", r.tg_tps_mean},
                      {"tg_tps_stddev", r.tg_tps_stddev},
                      {"latency_mean_ms", r.latency_mean_ms},
                      {"latency_stddev_ms", r.latency_stddev_ms},
                      {"latency_cv", r.latency_cv},
                      {"latency_p50_ms", r.latency_p50_ms},
                      {"latency_p95_ms", r.latency_p95_ms},
                      {"latency_p99_ms", r.latency_p99_ms},
                      {"peak_rss_bytes", r.peak_rss_bytes},
                      {"model_bytes", r.model_bytes}};
  if (r.energy.available) {
    j["energy"] = {{"available", true},
                   {"source", r.energy.source},
                   {"joules", r.energy.joules},
                   {"seconds", r.energy.seconds},
                   {"watts", r.energy.watts}};
  } else {
    j["energy"] = {{"available", false}, {"reason", r.energy.reason}};
  }
  return j.dump();
}

}  // namespace edgefarm::engine
