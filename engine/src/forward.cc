// The LLaMA forward pass: RMSNorm, RoPE (ggml's NORM mode: adjacent pairs (2i, 2i+1), which is
// what llama.cpp uses for the llama architecture because convert_hf_to_gguf permutes Q/K into that
// order), grouped-query attention with a causal mask over an f32 KV cache, SwiGLU FFN.
//
// Performance notes. All buffers are sized in Create(), so Forward() never allocates (except the
// all-positions logits buffer, grown once on first use). The KV cache stores K transposed per KV
// head ([head_dim][n_ctx]) so the query-key scores are a contiguous multiply-add over positions
// that the compiler vectorises without re-association, and V row-major ([n_ctx][head_dim]) so the
// weighted sum is a contiguous multiply-add over the head. For single-token steps the Q/K/V and
// gate/up projections share one parallel region each (MatVecMulti) to halve thread-pool dispatches,
// which dominate token generation on small models.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/model.h"
#include "edgefarm/engine/thread_pool.h"
#include "edgefarm/engine/tokenizer.h"
#include "forward_attention.h"

namespace edgefarm::engine {

struct LlamaContext::Buffers {
  std::vector<float> x, xn, q, k, v, att, tmp, gate, up;
  std::vector<float> logits;
  std::vector<float> k_cache;             // [layer][kv_head][head_dim][k_stride]
  std::vector<float> v_cache;             // [layer][kv_head][k_stride][head_dim]
  std::vector<float> scratch;             // per thread: attention scores
  std::vector<float> rope_cos, rope_sin;  // [n_batch][n_rot / 2] for the current call
};

namespace {

void RmsNorm(const float* x, const float* w, int n, float eps, float* out) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void ApplyRope(float* x, int n_rot, const float* cos_t, const float* sin_t) {
  for (int i = 0; i < n_rot / 2; ++i) {
    const float x0 = x[2 * i];
    const float x1 = x[2 * i + 1];
    x[2 * i] = x0 * cos_t[i] - x1 * sin_t[i];
    x[2 * i + 1] = x0 * sin_t[i] + x1 * cos_t[i];
  }
}

// Multiply-adds below which a parallel region costs more than it saves (a dispatch is a few
// microseconds; on a loaded machine, a scheduling delay of the helper threads).
constexpr int64_t kMinParallelWork = 1 << 16;

void AddInPlace(float* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace

ContextParams DefaultContextParams() {
  return ContextParams{};
}

LlamaContext::LlamaContext(const LlamaModel& model, const ContextParams& params, KernelPath path)
    : model_(model),
      n_ctx_(params.n_ctx > 0 ? params.n_ctx : model.hparams().n_ctx_train),
      n_batch_(std::min(params.n_batch, n_ctx_)),
      path_(path),
      pool_(std::make_unique<ThreadPool>(params.threads)),
      buf_(std::make_unique<Buffers>()) {
  const LlamaHparams& h = model.hparams();
  const size_t nb = static_cast<size_t>(n_batch_);
  const size_t n_kv = static_cast<size_t>(h.n_head_kv) * h.head_dim;
  buf_->x.resize(nb * h.n_embd);
  buf_->xn.resize(nb * h.n_embd);
  buf_->q.resize(nb * h.n_embd);
  buf_->att.resize(nb * h.n_embd);
  buf_->tmp.resize(nb * h.n_embd);
  buf_->k.resize(nb * n_kv);
  buf_->v.resize(nb * n_kv);
  buf_->gate.resize(nb * h.n_ff);
  buf_->up.resize(nb * h.n_ff);
  buf_->logits.resize(static_cast<size_t>(h.n_vocab));
  const size_t k_stride = static_cast<size_t>(AttentionCacheStride(n_ctx_));
  buf_->k_cache.assign(static_cast<size_t>(h.n_layer) * n_kv * k_stride, 0.0f);
  buf_->v_cache.assign(static_cast<size_t>(h.n_layer) * n_kv * k_stride, 0.0f);
  buf_->scratch.resize(static_cast<size_t>(params.threads) *
                       AttentionScratchFloats(n_ctx_, h.head_dim));
  buf_->rope_cos.resize(nb * (h.n_rot / 2));
  buf_->rope_sin.resize(nb * (h.n_rot / 2));
}

LlamaContext::~LlamaContext() = default;

Result<std::unique_ptr<LlamaContext>> LlamaContext::Create(const LlamaModel& model,
                                                           const ContextParams& params) {
  if (params.threads < 1 || params.threads > 1024) {
    return InvalidArgument("threads must be between 1 and 1024");
  }
  if (params.n_batch < 1 || params.n_ctx < 0 || params.n_ctx > (1 << 20)) {
    return InvalidArgument("n_batch must be positive and n_ctx in [0, 2^20]");
  }
  KernelPath path = params.kernel_path;
  if (path != KernelPath::kAuto && !KernelPathSupported(path)) {
    return FailedPrecondition("kernel path '" + std::string(KernelPathName(path)) +
                              "' is not supported on this CPU/build");
  }
  return std::unique_ptr<LlamaContext>(new LlamaContext(model, params, path));
}

Result<std::span<const float>> LlamaContext::Forward(std::span<const int32_t> tokens, int pos,
                                                     LogitsMode mode) {
  const LlamaHparams& h = model_.hparams();
  const int n = static_cast<int>(tokens.size());
  if (n == 0) return InvalidArgument("empty batch");
  if (n > n_batch_) {
    return InvalidArgument("batch of " + std::to_string(n) + " tokens exceeds n_batch " +
                           std::to_string(n_batch_));
  }
  if (pos < 0 || pos + n > n_ctx_) {
    return InvalidArgument("positions [" + std::to_string(pos) + ", " + std::to_string(pos + n) +
                           ") outside the context of " + std::to_string(n_ctx_));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= h.n_vocab)
      return InvalidArgument("token id " + std::to_string(t) + " outside the vocabulary");
  }
  Embed(tokens);
  RopeAngles(n, pos);
  for (int il = 0; il < h.n_layer; ++il) {
    const LlamaLayer& layer = model_.layers()[static_cast<size_t>(il)];
    AttentionBlock(layer, il, n, pos);
    FeedForwardBlock(layer, n);
  }
  OutputLogits(n, mode);
  const size_t count = (mode == LogitsMode::kAll ? static_cast<size_t>(n) : 1) * h.n_vocab;
  return std::span<const float>(buf_->logits.data(), count);
}

void LlamaContext::RopeAngles(int n, int pos) {
  // Computed as ggml does: theta *= theta_scale, in float.
  const LlamaHparams& h = model_.hparams();
  const int half = h.n_rot / 2;
  const float theta_scale = std::pow(h.rope_freq_base, -2.0f / static_cast<float>(h.n_rot));
  for (int t = 0; t < n; ++t) {
    float theta = static_cast<float>(pos + t);
    for (int i = 0; i < half; ++i) {
      buf_->rope_cos[static_cast<size_t>(t) * half + i] = std::cos(theta);
      buf_->rope_sin[static_cast<size_t>(t) * half + i] = std::sin(theta);
      theta *= theta_scale;
    }
  }
}

void LlamaContext::Embed(std::span<const int32_t> tokens) {
  const int d = model_.hparams().n_embd;
  for (size_t t = 0; t < tokens.size(); ++t) {
    model_.EmbedToken(tokens[t], buf_->x.data() + t * d);
  }
}

void LlamaContext::MatMulAuto(const WeightView& w, const float* x, int n, float* out) {
  const bool small = w.rows * w.cols * n < kMinParallelWork;
  MatMul(w, x, n, out, small ? nullptr : pool_.get(), path_);
}

void LlamaContext::MatVecMulti(std::span<const WeightView* const> weights, const float* x,
                               std::span<float* const> outs) {
  int64_t total = 0;
  int64_t work = 0;
  for (const WeightView* w : weights) {
    total += w->rows;
    work += w->rows * w->cols;
  }
  const KernelPath path = path_;
  if (work < kMinParallelWork) {
    for (size_t i = 0; i < weights.size(); ++i) MatMul(*weights[i], x, 1, outs[i], nullptr, path);
    return;
  }
  pool_->ParallelFor(total, 16, [&](int64_t begin, int64_t end, int) {
    int64_t offset = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      const WeightView& w = *weights[i];
      const int64_t r0 = std::max(begin, offset);
      const int64_t r1 = std::min(end, offset + w.rows);
      if (r0 < r1) {
        WeightView slice = w;
        slice.data = w.data + static_cast<size_t>(r0 - offset) * w.row_stride;
        slice.rows = r1 - r0;
        MatMul(slice, x, 1, outs[i] + (r0 - offset), nullptr, path);
      }
      offset += w.rows;
    }
  });
}

void LlamaContext::AttentionBlock(const LlamaLayer& layer, int il, int n, int pos) {
  const LlamaHparams& h = model_.hparams();
  const int d = h.n_embd;
  const int n_kv = h.n_head_kv * h.head_dim;
  for (int t = 0; t < n; ++t) {
    RmsNorm(&buf_->x[static_cast<size_t>(t) * d], layer.attn_norm.data(), d, h.rms_eps,
            &buf_->xn[static_cast<size_t>(t) * d]);
  }
  if (n == 1) {
    const WeightView* ws[] = {&layer.wq, &layer.wk, &layer.wv};
    float* const outs[] = {buf_->q.data(), buf_->k.data(), buf_->v.data()};
    MatVecMulti(ws, buf_->xn.data(), outs);
  } else {
    MatMulAuto(layer.wq, buf_->xn.data(), n, buf_->q.data());
    MatMulAuto(layer.wk, buf_->xn.data(), n, buf_->k.data());
    MatMulAuto(layer.wv, buf_->xn.data(), n, buf_->v.data());
  }
  const int half = h.n_rot / 2;
  for (int t = 0; t < n; ++t) {
    const float* c = &buf_->rope_cos[static_cast<size_t>(t) * half];
    const float* s = &buf_->rope_sin[static_cast<size_t>(t) * half];
    for (int hh = 0; hh < h.n_head; ++hh) {
      ApplyRope(&buf_->q[static_cast<size_t>(t) * d + hh * h.head_dim], h.n_rot, c, s);
    }
    for (int hh = 0; hh < h.n_head_kv; ++hh) {
      ApplyRope(&buf_->k[static_cast<size_t>(t) * n_kv + hh * h.head_dim], h.n_rot, c, s);
    }
  }
  Attend(il, n, pos);
  MatMulAuto(layer.wo, buf_->att.data(), n, buf_->tmp.data());
  AddInPlace(buf_->x.data(), buf_->tmp.data(), static_cast<size_t>(n) * d);
}

void LlamaContext::Attend(int il, int n, int pos) {
  const LlamaHparams& h = model_.hparams();
  const int hd = h.head_dim;
  const int n_kv = h.n_head_kv * hd;
  const int k_stride = AttentionCacheStride(n_ctx_);
  const size_t head_stride = static_cast<size_t>(hd) * k_stride;
  float* k_layer = &buf_->k_cache[static_cast<size_t>(il) * h.n_head_kv * head_stride];
  float* v_layer = &buf_->v_cache[static_cast<size_t>(il) * h.n_head_kv * head_stride];
  for (int t = 0; t < n; ++t) {
    for (int kh = 0; kh < h.n_head_kv; ++kh) {
      const float* k = &buf_->k[static_cast<size_t>(t) * n_kv + kh * hd];
      const float* v = &buf_->v[static_cast<size_t>(t) * n_kv + kh * hd];
      float* kt = k_layer + kh * head_stride;
      for (int e = 0; e < hd; ++e) kt[static_cast<size_t>(e) * k_stride + pos + t] = k[e];
      std::memcpy(v_layer + kh * head_stride + static_cast<size_t>(pos + t) * hd, v,
                  sizeof(float) * hd);
    }
  }
  AttentionParams p;
  p.head_dim = hd;
  p.k_stride = k_stride;
  p.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  p.q_stride = h.n_embd;
  p.simd = path_ != KernelPath::kScalar;
  const int group = h.n_head / h.n_head_kv;
  const size_t scratch_per_thread = AttentionScratchFloats(n_ctx_, hd);
  // Work items are (head, block of queries); blocks keep each thread's K/V rows hot in cache.
  const int n_qblocks = (n + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
  auto attend = [&](int64_t begin, int64_t end, int thread) {
    float* scratch = &buf_->scratch[static_cast<size_t>(thread) * scratch_per_thread];
    for (int64_t item = begin; item < end; ++item) {
      const int hh = static_cast<int>(item / n_qblocks);
      const int t0 = static_cast<int>(item % n_qblocks) * kAttentionQueryBlock;
      const int nq = std::min(kAttentionQueryBlock, n - t0);
      const int kh = hh / group;
      AttendHead(p, &buf_->q[static_cast<size_t>(t0) * h.n_embd + hh * hd], nq, pos + t0,
                 k_layer + kh * head_stride, v_layer + kh * head_stride, scratch,
                 &buf_->att[static_cast<size_t>(t0) * h.n_embd + hh * hd]);
    }
  };
  const int64_t items = int64_t{h.n_head} * n_qblocks;
  if (int64_t{h.n_head} * n * (pos + n) * hd < kMinParallelWork) {
    attend(0, items, 0);
  } else {
    pool_->ParallelFor(items, 1, attend);
  }
}

void LlamaContext::FeedForwardBlock(const LlamaLayer& layer, int n) {
  const LlamaHparams& h = model_.hparams();
  const int d = h.n_embd;
  for (int t = 0; t < n; ++t) {
    RmsNorm(&buf_->x[static_cast<size_t>(t) * d], layer.ffn_norm.data(), d, h.rms_eps,
            &buf_->xn[static_cast<size_t>(t) * d]);
  }
  if (n == 1) {
    const WeightView* ws[] = {&layer.ffn_gate, &layer.ffn_up};
    float* const outs[] = {buf_->gate.data(), buf_->up.data()};
    MatVecMulti(ws, buf_->xn.data(), outs);
  } else {
    MatMulAuto(layer.ffn_gate, buf_->xn.data(), n, buf_->gate.data());
    MatMulAuto(layer.ffn_up, buf_->xn.data(), n, buf_->up.data());
  }
  float* g = buf_->gate.data();
  SwiGlu(g, buf_->up.data(), static_cast<size_t>(n) * h.n_ff, path_ != KernelPath::kScalar);
  MatMulAuto(layer.ffn_down, g, n, buf_->tmp.data());
  AddInPlace(buf_->x.data(), buf_->tmp.data(), static_cast<size_t>(n) * d);
}

void LlamaContext::OutputLogits(int n, LogitsMode mode) {
  const LlamaHparams& h = model_.hparams();
  const int d = h.n_embd;
  const int first = mode == LogitsMode::kAll ? 0 : n - 1;
  const int rows = n - first;
  for (int t = first; t < n; ++t) {
    RmsNorm(&buf_->x[static_cast<size_t>(t) * d], model_.output_norm().data(), d, h.rms_eps,
            &buf_->xn[static_cast<size_t>(t) * d]);
  }
  const size_t need = static_cast<size_t>(rows) * h.n_vocab;
  if (buf_->logits.size() < need) buf_->logits.resize(need);
  MatMulAuto(model_.output(), &buf_->xn[static_cast<size_t>(first) * d], rows, buf_->logits.data());
}

}  // namespace edgefarm::engine
