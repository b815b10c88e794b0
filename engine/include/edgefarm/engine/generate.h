// Text generation: a prompt through the forward pass, then one token at a time from a sampler.
//
// Thread-safety: Sampler is single-threaded state; Generate creates its own LlamaContext and may
// run concurrently with other calls on the same (immutable) model.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/model.h"

namespace edgefarm::engine {

// Greedy (argmax, lowest id on ties) when temperature <= 0, else a draw from
// softmax(logits / temperature) restricted to the top_k most likely tokens (top_k <= 0: all).
class Sampler {
 public:
  Sampler(float temperature, uint64_t seed, int top_k = 40);
  int32_t Sample(std::span<const float> logits);

 private:
  float temperature_;
  int top_k_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

struct GenerateParams {
  std::string prompt;
  int n_predict = 32;        // tokens to generate at most (stops early at end-of-sequence)
  float temperature = 0.0f;  // 0 = greedy
  uint64_t seed = 0;
  int top_k = 40;
  int threads = 1;
  KernelPath kernel_path = KernelPath::kAuto;
};
GenerateParams DefaultGenerateParams();

struct GenerateResult {
  std::vector<int32_t> prompt_tokens;  // BOS first
  std::vector<int32_t> tokens;         // generated, without the prompt
  std::string text;                    // detokenised generated tokens
};

// Generates from params.prompt. on_piece (may be empty) receives each generated token's text as
// soon as it is sampled. Errors: InvalidArgument when prompt + n_predict exceed the model's
// context, or any error of the forward pass.
Result<GenerateResult> Generate(const LlamaModel& model, const GenerateParams& params,
                                const std::function<void(std::string_view)>& on_piece = {});

}  // namespace edgefarm::engine
