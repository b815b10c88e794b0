// The cell job (see cell_job.h): baseline measurement, quantisation, measurement against the
// baseline, result.json.
//
// The baseline's perplexity comes from the same lockstep evaluation that scores the quantised
// model (Evaluate with a baseline), so each chunk's baseline logits are computed once per
// candidate and never stored. Olive candidates are written under DIR/candidates/ and removed once
// the chosen one is renamed to DIR/model.gguf, so DIR holds only the artifacts the worker uploads.
#include "edgefarm/engine/cell_job.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edgefarm/engine/benchmark.h"
#include "edgefarm/engine/evaluator.h"
#include "edgefarm/engine/model.h"
#include "edgefarm/engine/quantize.h"

namespace edgefarm::engine {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct Measured {
  CellMetrics metrics;
  QuantizeReport report;
  EnergyReading energy;
};

std::string TypeName(TensorType t) {
  auto traits = GetTypeTraits(t);
  return traits ? std::string(traits->name) : std::to_string(static_cast<uint32_t>(t));
}

Json ReportJson(const std::string& scheme, bool pure, const QuantizeReport& r) {
  Json tensors = Json::array();
  for (const TensorQuantizeRecord& t : r.tensors) {
    Json e = {{"name", t.name}, {"from", TypeName(t.from)}, {"to", TypeName(t.to)}};
    if (!t.fallback_reason.empty()) e["fallback_reason"] = t.fallback_reason;
    tensors.push_back(std::move(e));
  }
  return Json{{"scheme", scheme},
              {"pure", pure},
              {"bytes_in", r.bytes_in},
              {"bytes_out", r.bytes_out},
              {"file_bytes_out", r.file_bytes_out},
              {"tensors", std::move(tensors)}};
}

Json MetricsJson(const CellMetrics& m, uint64_t baseline_bytes, const BenchResult& base) {
  return Json{{"model_bytes", m.model_bytes},
              {"baseline_bytes", baseline_bytes},
              {"pp_tps_mean", m.pp_tps_mean},
              {"pp_tps_stddev", m.pp_tps_stddev},
              {"tg_tps_mean", m.tg_tps_mean},
              {"tg_tps_stddev", m.tg_tps_stddev},
              {"baseline_pp_tps_mean", base.pp_tps_mean},
              {"baseline_tg_tps_mean", base.tg_tps_mean},
              {"latency_p50_ms", m.latency_p50_ms},
              {"latency_p95_ms", m.latency_p95_ms},
              {"latency_p99_ms", m.latency_p99_ms},
              {"latency_cv", m.latency_cv},
              {"peak_rss_bytes", m.peak_rss_bytes},
              {"ppl", m.ppl},
              {"baseline_ppl", m.baseline_ppl},
              {"ppl_ratio", m.ppl_ratio},
              {"kld_mean", m.kld_mean},
              {"kld_p99", m.kld_p99},
              {"top1_agreement", m.top1_agreement},
              {"accuracy_retention", m.accuracy_retention},
              {"speedup", m.speedup},
              {"memory_reduction", m.memory_reduction}};
}

Json EnergyJson(const EnergyReading& e) {
  if (!e.available) return Json{{"available", false}, {"reason", e.reason}};
  return Json{{"available", true},
              {"source", e.source},
              {"joules", e.joules},
              {"seconds", e.seconds},
              {"watts", e.watts}};
}

Json FallbacksJson(const Measured* chosen) {
  Json fallbacks = Json::array();
  if (chosen == nullptr) return fallbacks;
  for (const TensorQuantizeRecord& t : chosen->report.tensors) {
    if (t.fallback_reason.empty()) continue;
    fallbacks.push_back({{"tensor", t.name},
                         {"wanted", TypeName(t.wanted)},
                         {"used", TypeName(t.to)},
                         {"reason", t.fallback_reason}});
  }
  return fallbacks;
}

// Every regular file in `dir` except result.json, by name, with its size.
Json ArtifactsJson(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() != "result.json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  Json artifacts = Json::array();
  for (const fs::path& f : files) {
    artifacts.push_back({{"name", f.filename().string()}, {"bytes", fs::file_size(f)}});
  }
  return artifacts;
}

Json CandidateJson(const Measured& c, uint64_t baseline_bytes, const BenchResult& base) {
  Json e = {{"scheme", c.metrics.scheme},
            {"metrics", MetricsJson(c.metrics, baseline_bytes, base)},
            {"feasible", c.metrics.feasible}};
  if (!c.metrics.feasible) e["infeasible_reason"] = c.metrics.infeasible_reason;
  e["on_frontier"] = c.metrics.on_frontier;
  e["score"] = c.metrics.score;
  e["chosen"] = c.metrics.chosen;
  return e;
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError("cannot write " + path.string());
  return Status::Ok();
}

class JobRunner {
 public:
  JobRunner(const CellJob& job, const CellJobOptions& opt) : job_(job), opt_(opt) {}

  Status Init();
  Result<Measured> MeasureScheme(const std::string& scheme, const fs::path& out_model);
  Result<std::string> RunSingle();
  Result<std::string> RunOlive();

 private:
  void Progress(const std::string& line) const {
    if (opt_.progress) opt_.progress(line);
  }
  BenchParams MakeBenchParams() const;
  Result<std::string> Finish(const std::string& scheme, const Measured* chosen,
                             const std::vector<Measured>& candidates);

  const CellJob& job_;
  const CellJobOptions& opt_;
  std::string text_;
  std::unique_ptr<LlamaModel> base_;
  BenchResult base_bench_;
};

BenchParams JobRunner::MakeBenchParams() const {
  BenchParams p = DefaultBenchParams();
  p.n_prompt = job_.prompt_tokens;
  p.n_gen = job_.gen_tokens;
  p.reps = job_.repetitions;
  p.threads = job_.threads;
  p.kernel_path = opt_.kernel_path;
  p.measure_energy = opt_.measure_energy;
  return p;
}

Status JobRunner::Init() {
  std::error_code ec;
  fs::create_directories(opt_.out_dir, ec);
  if (ec) return IoError("cannot create " + opt_.out_dir.string() + ": " + ec.message());
  std::ifstream in(job_.eval_text_path, std::ios::binary);
  if (!in) return NotFound("cannot read eval text " + job_.eval_text_path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  text_ = buffer.str();
  Progress("loading baseline " + job_.model_path.string());
  EF_ASSIGN_OR_RETURN(base_, LlamaModel::Load(job_.model_path));
  Progress("baseline: benchmark pp" + std::to_string(job_.prompt_tokens) + " tg" +
           std::to_string(job_.gen_tokens) + " x" + std::to_string(job_.repetitions) + ", " +
           std::to_string(job_.threads) + " threads");
  EF_ASSIGN_OR_RETURN(base_bench_, RunBenchmark(*base_, MakeBenchParams()));
  char line[160];
  std::snprintf(line, sizeof(line), "baseline: pp %.1f t/s, tg %.1f t/s, %llu bytes",
                base_bench_.pp_tps_mean, base_bench_.tg_tps_mean,
                static_cast<unsigned long long>(base_->file_bytes()));
  Progress(line);
  return Status::Ok();
}

Result<Measured> JobRunner::MeasureScheme(const std::string& scheme, const fs::path& out_model) {
  Measured r;
  QuantizeParams qp = DefaultQuantizeParams();
  qp.scheme = scheme;
  qp.pure = job_.pure;
  qp.threads = job_.threads;
  Progress("[" + scheme + "] quantising" + (job_.pure ? " (pure)" : ""));
  EF_ASSIGN_OR_RETURN(r.report, QuantizeModel(job_.model_path, out_model, qp));
  EF_ASSIGN_OR_RETURN(std::unique_ptr<LlamaModel> model, LlamaModel::Load(out_model));
  Progress("[" + scheme + "] benchmark");
  EF_ASSIGN_OR_RETURN(BenchResult bench, RunBenchmark(*model, MakeBenchParams()));
  Progress("[" + scheme + "] evaluating against the baseline (ctx " +
           std::to_string(job_.eval_ctx) + ")");
  EvalParams ep = DefaultEvalParams();
  ep.n_ctx = job_.eval_ctx;
  ep.max_chunks = job_.eval_max_chunks;
  ep.threads = job_.threads;
  ep.kernel_path = opt_.kernel_path;
  EF_ASSIGN_OR_RETURN(EvalResult eval, Evaluate(*model, text_, ep, base_.get()));
  CellMetrics& m = r.metrics;
  m.scheme = scheme;
  m.model_bytes = model->file_bytes();
  m.pp_tps_mean = bench.pp_tps_mean, m.pp_tps_stddev = bench.pp_tps_stddev;
  m.tg_tps_mean = bench.tg_tps_mean, m.tg_tps_stddev = bench.tg_tps_stddev;
  m.latency_p50_ms = bench.latency_p50_ms, m.latency_p95_ms = bench.latency_p95_ms;
  m.latency_p99_ms = bench.latency_p99_ms, m.latency_cv = bench.latency_cv;
  m.peak_rss_bytes = bench.peak_rss_bytes;
  m.ppl = eval.ppl, m.baseline_ppl = eval.baseline_ppl, m.ppl_ratio = eval.ppl_ratio;
  m.kld_mean = eval.kld_mean, m.kld_p99 = eval.kld_p99, m.top1_agreement = eval.top1_agreement;
  m.accuracy_retention = eval.ppl > 0 ? eval.baseline_ppl / eval.ppl : 0;
  m.speedup = base_bench_.tg_tps_mean > 0 ? bench.tg_tps_mean / base_bench_.tg_tps_mean : 0;
  m.memory_reduction =
      1.0 - static_cast<double>(m.model_bytes) / static_cast<double>(base_->file_bytes());
  r.energy = bench.energy;
  char line[200];
  std::snprintf(line, sizeof(line),
                "[%s] %llu bytes, pp %.1f t/s, tg %.1f t/s, ppl %.4f (baseline %.4f), "
                "kld %.6f, top1 %.2f%%",
                scheme.c_str(), static_cast<unsigned long long>(m.model_bytes), m.pp_tps_mean,
                m.tg_tps_mean, m.ppl, m.baseline_ppl, m.kld_mean, 100 * m.top1_agreement);
  Progress(line);
  return r;
}

Result<std::string> JobRunner::Finish(const std::string& scheme, const Measured* chosen,
                                      const std::vector<Measured>& candidates) {
  if (chosen != nullptr) {
    const Json report = ReportJson(scheme, job_.pure, chosen->report);
    EF_RETURN_IF_ERROR(WriteText(opt_.out_dir / "quantize-report.json", report.dump(2) + "\n"));
  }
  Json result = {{"schema", "edgefarm.result/v1"},
                 {"framework", job_.framework},
                 {"target", job_.target},
                 {"scheme", scheme},
                 {"runtime", {{"quantize", "native"}, {"bench", "native"}, {"eval", "native"}}}};
  if (chosen != nullptr) {
    result["metrics"] = MetricsJson(chosen->metrics, base_->file_bytes(), base_bench_);
    result["energy"] = EnergyJson(chosen->energy);
  } else {
    result["metrics"] = Json{{"baseline_bytes", base_->file_bytes()},
                             {"baseline_pp_tps_mean", base_bench_.pp_tps_mean},
                             {"baseline_tg_tps_mean", base_bench_.tg_tps_mean}};
    result["energy"] = EnergyJson(base_bench_.energy);
  }
  result["fallbacks"] = FallbacksJson(chosen);
  result["artifacts"] = ArtifactsJson(opt_.out_dir);
  Json cands = Json::array();
  for (const Measured& c : candidates)
    cands.push_back(CandidateJson(c, base_->file_bytes(), base_bench_));
  result["candidates"] = std::move(cands);
  std::string text = result.dump(2) + "\n";
  EF_RETURN_IF_ERROR(WriteText(opt_.out_dir / "result.json", text));
  return text;
}

Result<std::string> JobRunner::RunSingle() {
  EF_ASSIGN_OR_RETURN(Measured m, MeasureScheme(job_.scheme, opt_.out_dir / "model.gguf"));
  return Finish(job_.scheme, &m, {});
}

Result<std::string> JobRunner::RunOlive() {
  const fs::path dir = opt_.out_dir / "candidates";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<Measured> measured;
  for (const std::string& scheme : job_.candidates) {
    EF_ASSIGN_OR_RETURN(Measured m, MeasureScheme(scheme, dir / (scheme + ".gguf")));
    measured.push_back(std::move(m));
  }
  std::vector<CellMetrics> metrics;
  for (const Measured& m : measured) metrics.push_back(m.metrics);
  const Result<size_t> chosen = ChooseCandidate(metrics, job_);
  for (size_t i = 0; i < measured.size(); ++i) measured[i].metrics = metrics[i];
  if (!chosen.ok()) {
    fs::remove_all(dir, ec);
    EF_RETURN_IF_ERROR(Finish("olive", nullptr, measured).status());
    return chosen.status();
  }
  const Measured& best = measured[*chosen];
  Progress("olive: chose " + best.metrics.scheme + " (score " + std::to_string(best.metrics.score) +
           ")");
  fs::rename(dir / (best.metrics.scheme + ".gguf"), opt_.out_dir / "model.gguf", ec);
  if (ec) return IoError("cannot move the chosen model: " + ec.message());
  fs::remove_all(dir, ec);
  return Finish(best.metrics.scheme, &best, measured);
}

}  // namespace

Result<std::string> RunCellJob(const CellJob& job, const CellJobOptions& options) {
  JobRunner runner(job, options);
  EF_RETURN_IF_ERROR(runner.Init());
  try {
    return job.framework == "olive" ? runner.RunOlive() : runner.RunSingle();
  } catch (const std::filesystem::filesystem_error& e) {
    return IoError(e.what());
  }
}

}  // namespace edgefarm::engine
