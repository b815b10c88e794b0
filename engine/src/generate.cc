// Prompt processing in one batch (chunked by n_batch), then a token at a time.
#include "edgefarm/engine/generate.h"

#include <algorithm>

#include "edgefarm/engine/tokenizer.h"

namespace edgefarm::engine {

GenerateParams DefaultGenerateParams() {
  return GenerateParams{};
}

Result<GenerateResult> Generate(const LlamaModel& model, const GenerateParams& params,
                                const std::function<void(std::string_view)>& on_piece) {
  if (params.n_predict < 0) return InvalidArgument("n_predict must not be negative");
  GenerateResult result;
  result.prompt_tokens = model.tokenizer().Encode(params.prompt, /*add_bos=*/true);
  const int n_prompt = static_cast<int>(result.prompt_tokens.size());
  const int n_ctx = std::max(model.hparams().n_ctx_train, n_prompt + params.n_predict);
  ContextParams cp = DefaultContextParams();
  cp.n_ctx = n_ctx;
  cp.n_batch = std::min(512, n_ctx);
  cp.threads = params.threads;
  cp.kernel_path = params.kernel_path;
  EF_ASSIGN_OR_RETURN(std::unique_ptr<LlamaContext> ctx, LlamaContext::Create(model, cp));

  std::span<const float> logits;
  for (int p = 0; p < n_prompt; p += cp.n_batch) {
    const int n = std::min(cp.n_batch, n_prompt - p);
    EF_ASSIGN_OR_RETURN(
        logits,
        ctx->Forward(
            std::span(result.prompt_tokens).subspan(static_cast<size_t>(p), static_cast<size_t>(n)),
            p, LogitsMode::kLast));
  }
  Sampler sampler(params.temperature, params.seed, params.top_k);
  int pos = n_prompt;
  for (int i = 0; i < params.n_predict; ++i) {
    const int32_t token = sampler.Sample(logits);
    if (token == model.tokenizer().eos()) break;
    result.tokens.push_back(token);
    if (on_piece) on_piece(model.tokenizer().TokenToPiece(token));
    if (i + 1 == params.n_predict) break;
    const int32_t one[] = {token};
    EF_ASSIGN_OR_RETURN(logits, ctx->Forward(one, pos++, LogitsMode::kLast));
  }
  result.text = model.tokenizer().Decode(result.tokens);
  return result;
}

}  // namespace edgefarm::engine
