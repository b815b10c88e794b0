// A LLaMA-architecture model loaded from GGUF, and the inference context that runs its forward
// pass.
//
// LlamaModel reads the `llama.*` hyperparameters and binds every weight tensor in place (weights
// stay in the file's memory mapping, in whatever type the file stores them; only the small norm
// vectors are converted to f32). Loading validates every tensor's presence, type and shape
// against the hyperparameters and returns a Status naming the tensor on any mismatch.
//
// LlamaContext owns the mutable state of one inference stream: an f32 KV cache, scratch buffers
// sized once at creation (no allocation per token) and a ThreadPool. Forward() runs a batch of
// tokens at consecutive positions and returns logits for all of them or only the last.
//
// Ownership: LlamaModel owns its GgufFile and Tokenizer; a LlamaContext borrows its model, which
// must outlive it. Thread-safety: a LlamaModel is immutable after Load() and may be shared by many
// contexts on many threads; a LlamaContext is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/matmul.h"

namespace edgefarm::engine {

class GgufFile;
class Tokenizer;
class ThreadPool;

struct LlamaHparams {
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_ff = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int n_ctx_train = 0;
  int n_rot = 0;     // rope.dimension_count; defaults to the head size
  int head_dim = 0;  // n_embd / n_head
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
};

struct LlamaLayer {
  std::vector<float> attn_norm;  // n_embd
  std::vector<float> ffn_norm;   // n_embd
  WeightView wq, wk, wv, wo;     // [n_embd x n_embd], [n_kv x n_embd] x2, [n_embd x n_embd]
  WeightView ffn_gate, ffn_up;   // [n_ff x n_embd]
  WeightView ffn_down;           // [n_embd x n_ff]
};

class LlamaModel {
 public:
  // Opens and maps `path`, reads hyperparameters and binds tensors. Errors: NotFound/IoError for
  // the file, InvalidArgument for a non-llama or inconsistent model (naming the key or tensor).
  static Result<std::unique_ptr<LlamaModel>> Load(const std::filesystem::path& path);
  // Same from an already opened file; takes ownership.
  static Result<std::unique_ptr<LlamaModel>> FromGguf(std::unique_ptr<GgufFile> file);
  ~LlamaModel();
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;

  const LlamaHparams& hparams() const { return hparams_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& file() const { return *file_; }
  const std::vector<LlamaLayer>& layers() const { return layers_; }
  const WeightView& token_embd() const { return token_embd_; }
  const WeightView& output() const { return output_; }  // token_embd when tied
  const std::vector<float>& output_norm() const { return output_norm_; }
  // Size of the GGUF file and of its tensor data, in bytes.
  uint64_t file_bytes() const;
  uint64_t tensor_bytes() const;

  // Dequantises the embedding row of `token` (which must be < n_vocab) into out[n_embd].
  void EmbedToken(int32_t token, float* out) const;

 private:
  LlamaModel() = default;
  Status BindTensors();

  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  LlamaHparams hparams_;
  WeightView token_embd_;
  WeightView output_;
  std::vector<float> output_norm_;
  std::vector<LlamaLayer> layers_;
};

// Reads the hyperparameters from GGUF metadata (exposed for tests and `info`).
Result<LlamaHparams> ReadLlamaHparams(const GgufFile& file);

// "auto", "scalar", "avx2", "avx512", "neon" (case-insensitive). Unknown names are an error.
Result<KernelPath> ParseKernelPath(std::string_view name);
// The path named by the EDGEFARM_KERNEL_PATH environment variable, else kAuto (an unknown name
// is reported by the Status).
Result<KernelPath> KernelPathFromEnv();

struct ContextParams {
  int n_ctx = 0;      // KV cache positions; 0 = the model's training context
  int n_batch = 512;  // most tokens one Forward() call may carry
  int threads = 1;
  KernelPath kernel_path = KernelPath::kAuto;
};
ContextParams DefaultContextParams();

enum class LogitsMode { kLast, kAll };

class LlamaContext {
 public:
  // Errors: InvalidArgument for non-positive sizes or threads, FailedPrecondition when the
  // requested kernel path is not supported by this CPU/build.
  static Result<std::unique_ptr<LlamaContext>> Create(const LlamaModel& model,
                                                      const ContextParams& params);
  ~LlamaContext();
  LlamaContext(const LlamaContext&) = delete;
  LlamaContext& operator=(const LlamaContext&) = delete;

  // Runs `tokens` at positions [pos, pos + tokens.size()), attending to the cached positions
  // [0, pos) written by earlier calls. Returns n_vocab logits per token (kAll, row-major) or for
  // the last token only (kLast); the span stays valid until the next Forward(). Errors:
  // InvalidArgument for an empty batch, a batch over n_batch, positions past n_ctx, or a token id
  // outside the vocabulary.
  Result<std::span<const float>> Forward(std::span<const int32_t> tokens, int pos, LogitsMode mode);

  int n_ctx() const { return n_ctx_; }
  int n_batch() const { return n_batch_; }
  const LlamaModel& model() const { return model_; }
  KernelPath kernel_path() const { return path_; }

 private:
  struct Buffers;
  LlamaContext(const LlamaModel& model, const ContextParams& params, KernelPath path);
  void Embed(std::span<const int32_t> tokens);
  void RopeAngles(int n, int pos);
  void AttentionBlock(const LlamaLayer& layer, int il, int n, int pos);
  void FeedForwardBlock(const LlamaLayer& layer, int n);
  void Attend(int il, int n, int pos);
  void OutputLogits(int n, LogitsMode mode);
  // out_i = W_i x for several weights sharing the input, in one parallel region.
  void MatVecMulti(std::span<const WeightView* const> weights, const float* x,
                   std::span<float* const> outs);
  void MatMulAuto(const WeightView& w, const float* x, int n, float* out);

  const LlamaModel& model_;
  int n_ctx_;
  int n_batch_;
  KernelPath path_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Buffers> buf_;
};

}  // namespace edgefarm::engine
