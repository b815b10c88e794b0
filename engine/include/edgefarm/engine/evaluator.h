// Accuracy evaluation as llama.cpp's llama-perplexity computes it, so figures compare directly.
//
// Method: tokenize the whole text once (BOS first); cut it into consecutive chunks of n_ctx
// tokens (a trailing partial chunk is dropped); in each chunk replace the first token by BOS and
// run the chunk from position 0; score positions n_ctx/2 ... n_ctx-2 by the negative log
// likelihood of the next token; PPL = exp(mean NLL over all scored positions). With a baseline
// model, at the same positions: KL divergence KL(baseline || model) over the full-vocabulary
// softmax (mean and 99th percentile, percentile interpolated as llama-perplexity does), top-1
// agreement ("same top p"), and the baseline's PPL. Tokens come from the baseline's tokenizer when
// there is one (llama.cpp takes them from the baseline's saved logits), else the model's.
//
// Chunks are spread over `threads` worker threads, each with its own single-threaded context;
// per-chunk sums are combined in chunk order so results do not depend on the thread count.
// Thread-safety: reentrant; models are only read.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/model.h"

namespace edgefarm::engine {

struct EvalParams {
  int n_ctx = 128;
  int max_chunks = 0;  // 0 = every whole chunk of the text
  int threads = 1;
  KernelPath kernel_path = KernelPath::kAuto;
};
EvalParams DefaultEvalParams();

struct EvalResult {
  int64_t text_tokens = 0;
  int chunks = 0;
  int64_t scored = 0;  // positions scored
  double nll_mean = 0;
  double ppl = 0;
  double ppl_stderr = 0;  // standard error of PPL from the NLL spread (as llama-perplexity)
  bool has_baseline = false;
  double baseline_ppl = 0;
  double ppl_ratio = 0;  // ppl / baseline_ppl
  double kld_mean = 0;
  double kld_median = 0;
  double kld_p99 = 0;
  double top1_agreement = 0;  // fraction in [0, 1]
};

// Called after each finished chunk with (chunks done, chunks total), from any worker thread,
// one call at a time.
using EvalProgress = std::function<void(int, int)>;

// Errors: InvalidArgument for n_ctx < 4, a text with fewer than n_ctx tokens, or a baseline whose
// vocabulary size differs from the model's; forward-pass errors.
Result<EvalResult> Evaluate(const LlamaModel& model, std::string_view text,
                            const EvalParams& params, const LlamaModel* baseline = nullptr,
                            const EvalProgress& progress = {});

// -log softmax(logits)[target], computed in double with the max subtracted.
double NegLogLikelihood(std::span<const float> logits, int32_t target);
// KL(softmax(base) || softmax(logits)) in nats.
double KlDivergence(std::span<const float> base_logits, std::span<const float> logits);
// llama-perplexity's percentile of sorted values: linear interpolation at fraction*(n-1).
double SortedPercentile(std::span<const float> sorted, double fraction);

}  // namespace edgefarm::engine
