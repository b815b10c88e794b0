// Perplexity and KL-divergence evaluation over chunks (see evaluator.h for the method).
//
// Chunks are independent (each starts at position 0), so parallelism is across chunks: each
// worker thread owns one single-threaded context per model and pulls chunk indices from an atomic
// counter. Per-chunk partial sums land in a vector indexed by chunk and are reduced in order, so
// the figures are identical for any thread count.
#include "edgefarm/engine/evaluator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <vector>

#include "edgefarm/engine/tokenizer.h"

namespace edgefarm::engine {
namespace {

struct ChunkStats {
  double nll = 0, nll2 = 0, base_nll = 0, kld = 0;
  int64_t same_top = 0;
  std::vector<float> klds;
  Status status;
};

struct EvalJob {
  const LlamaModel& model;
  const LlamaModel* baseline;
  const std::vector<int32_t>& tokens;
  const EvalParams& params;
  int n_chunks;
  std::vector<ChunkStats>& stats;
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mu;
  int done = 0;
  const EvalProgress& progress;
};

Result<std::unique_ptr<LlamaContext>> MakeContext(const LlamaModel& m, const EvalParams& p) {
  ContextParams cp = DefaultContextParams();
  cp.n_ctx = p.n_ctx;
  cp.n_batch = p.n_ctx;
  cp.threads = 1;
  cp.kernel_path = p.kernel_path;
  return LlamaContext::Create(m, cp);
}

Status RunChunk(EvalJob& job, int chunk, LlamaContext& ctx, LlamaContext* base_ctx,
                std::vector<int32_t>& batch, std::vector<float>& base_logits) {
  const int n_ctx = job.params.n_ctx;
  const size_t start = static_cast<size_t>(chunk) * n_ctx;
  std::copy_n(job.tokens.begin() + static_cast<ptrdiff_t>(start), n_ctx, batch.begin());
  batch[0] = (job.baseline ? job.baseline : &job.model)->tokenizer().bos();
  const size_t nv = static_cast<size_t>(job.model.hparams().n_vocab);
  if (base_ctx != nullptr) {
    EF_ASSIGN_OR_RETURN(std::span<const float> bl, base_ctx->Forward(batch, 0, LogitsMode::kAll));
    base_logits.assign(bl.begin(), bl.end());
  }
  EF_ASSIGN_OR_RETURN(std::span<const float> logits, ctx.Forward(batch, 0, LogitsMode::kAll));
  ChunkStats& s = job.stats[static_cast<size_t>(chunk)];
  for (int j = n_ctx / 2; j < n_ctx - 1; ++j) {
    const int32_t target = job.tokens[start + static_cast<size_t>(j) + 1];
    const std::span<const float> row = logits.subspan(static_cast<size_t>(j) * nv, nv);
    const double nll = NegLogLikelihood(row, target);
    s.nll += nll;
    s.nll2 += nll * nll;
    if (base_ctx == nullptr) continue;
    const std::span<const float> base_row(base_logits.data() + static_cast<size_t>(j) * nv, nv);
    s.base_nll += NegLogLikelihood(base_row, target);
    const double kld = KlDivergence(base_row, row);
    s.kld += kld;
    s.klds.push_back(static_cast<float>(kld));
    const auto top = std::max_element(row.begin(), row.end()) - row.begin();
    const auto base_top = std::max_element(base_row.begin(), base_row.end()) - base_row.begin();
    s.same_top += top == base_top ? 1 : 0;
  }
  return Status::Ok();
}

void Worker(EvalJob& job) {
  auto fail = [&](int chunk, const Status& st) {
    job.stats[static_cast<size_t>(chunk)].status = st;
    job.failed = true;
  };
  auto ctx = MakeContext(job.model, job.params);
  Result<std::unique_ptr<LlamaContext>> base_ctx = std::unique_ptr<LlamaContext>();
  if (job.baseline != nullptr) base_ctx = MakeContext(*job.baseline, job.params);
  std::vector<int32_t> batch(static_cast<size_t>(job.params.n_ctx));
  std::vector<float> base_logits;
  for (int chunk = job.next++; chunk < job.n_chunks && !job.failed; chunk = job.next++) {
    if (!ctx.ok() || !base_ctx.ok()) {
      fail(chunk, ctx.ok() ? base_ctx.status() : ctx.status());
      return;
    }
    const Status st = RunChunk(job, chunk, **ctx, base_ctx->get(), batch, base_logits);
    if (!st.ok()) {
      fail(chunk, st);
      return;
    }
    if (job.progress) {
      std::lock_guard<std::mutex> lock(job.progress_mu);
      job.progress(++job.done, job.n_chunks);
    }
  }
}

EvalResult Reduce(const std::vector<ChunkStats>& stats, int n_ctx, bool has_baseline) {
  EvalResult r;
  r.chunks = static_cast<int>(stats.size());
  r.scored = static_cast<int64_t>(stats.size()) * (n_ctx - 1 - n_ctx / 2);
  double nll = 0, nll2 = 0, base_nll = 0, kld = 0;
  int64_t same_top = 0;
  std::vector<float> klds;
  for (const ChunkStats& s : stats) {
    nll += s.nll;
    nll2 += s.nll2;
    base_nll += s.base_nll;
    kld += s.kld;
    same_top += s.same_top;
    klds.insert(klds.end(), s.klds.begin(), s.klds.end());
  }
  const double count = static_cast<double>(r.scored);
  r.nll_mean = nll / count;
  r.ppl = std::exp(r.nll_mean);
  const double var = std::max(0.0, nll2 / count - r.nll_mean * r.nll_mean);
  r.ppl_stderr = count > 1 ? r.ppl * std::sqrt(var / (count - 1)) : 0.0;
  if (has_baseline) {
    r.has_baseline = true;
    r.baseline_ppl = std::exp(base_nll / count);
    r.ppl_ratio = r.ppl / r.baseline_ppl;
    r.kld_mean = kld / count;
    r.top1_agreement = static_cast<double>(same_top) / count;
    std::sort(klds.begin(), klds.end());
    r.kld_median = SortedPercentile(klds, 0.5);
    r.kld_p99 = SortedPercentile(klds, 0.99);
  }
  return r;
}

}  // namespace

EvalParams DefaultEvalParams() {
  return EvalParams{};
}

Result<EvalResult> Evaluate(const LlamaModel& model, std::string_view text,
                            const EvalParams& params, const LlamaModel* baseline,
                            const EvalProgress& progress) {
  if (params.n_ctx < 4) return InvalidArgument("eval context must be at least 4 tokens");
  if (params.threads < 1) return InvalidArgument("threads must be positive");
  if (params.max_chunks < 0) return InvalidArgument("max_chunks must not be negative");
  if (baseline != nullptr && baseline->hparams().n_vocab != model.hparams().n_vocab) {
    return InvalidArgument("baseline vocabulary (" + std::to_string(baseline->hparams().n_vocab) +
                           ") differs from the model's (" +
                           std::to_string(model.hparams().n_vocab) + ")");
  }
  const Tokenizer& tok = (baseline != nullptr ? *baseline : model).tokenizer();
  const std::vector<int32_t> tokens = tok.Encode(text, /*add_bos=*/true);
  int n_chunks = static_cast<int>(tokens.size() / static_cast<size_t>(params.n_ctx));
  if (n_chunks == 0) {
    return InvalidArgument("text has " + std::to_string(tokens.size()) +
                           " tokens, fewer than one chunk of " + std::to_string(params.n_ctx));
  }
  if (params.max_chunks > 0) n_chunks = std::min(n_chunks, params.max_chunks);
  std::vector<ChunkStats> stats(static_cast<size_t>(n_chunks));
  EvalJob job{model, baseline, tokens, params, n_chunks, stats, {0}, {false}, {}, 0, progress};
  const int n_threads = std::min(params.threads, n_chunks);
  std::vector<std::thread> threads;
  for (int i = 1; i < n_threads; ++i) threads.emplace_back([&job] { Worker(job); });
  Worker(job);
  for (std::thread& t : threads) t.join();
  for (const ChunkStats& s : stats) {
    if (!s.status.ok()) return s.status;
  }
  EvalResult r = Reduce(stats, params.n_ctx, baseline != nullptr);
  r.text_tokens = static_cast<int64_t>(tokens.size());
  return r;
}

}  // namespace edgefarm::engine
