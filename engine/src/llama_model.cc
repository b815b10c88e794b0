// Loading a LLaMA model from GGUF: hyperparameters from `llama.*` metadata, weights bound in
// place as WeightViews over the file mapping.
//
// Every shape is checked against the hyperparameters here, once, so the forward pass can index
// without checks. Tensors whose rows do not divide into their type's blocks, unknown types and
// sizes that disagree with the shape are rejected with the tensor's name.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>

#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/matmul.h"
#include "edgefarm/engine/model.h"
#include "edgefarm/engine/quant.h"
#include "edgefarm/engine/tokenizer.h"

namespace edgefarm::engine {
namespace {

// Whether MatMul implements `type` at all; the row length is checked against the blocks below.
bool MatMulImplements(TensorType type) {
  const std::optional<TypeTraits> traits = GetTypeTraits(type);
  return traits.has_value() && MatMulSupports(type, traits->block_size);
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<int> RequireInt(const GgufFile& f, const std::string& key) {
  std::optional<int64_t> v = f.GetInt(key);
  if (!v) return InvalidArgument("missing or non-integer metadata '" + key + "'");
  if (*v <= 0 || *v > (int64_t{1} << 30)) {
    return InvalidArgument("metadata '" + key + "' out of range: " + std::to_string(*v));
  }
  return static_cast<int>(*v);
}

class Binder {
 public:
  explicit Binder(const GgufFile& f) : f_(f) {}

  const GgufTensorInfo* Find(const std::string& name) const { return f_.FindTensor(name); }

  // A 2-D weight of `rows` x `cols` (GGUF shape [cols, rows]) usable by MatMul.
  Result<WeightView> Matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const GgufTensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) return InvalidArgument("missing tensor '" + name + "'");
    if (t->shape.size() != 2 || t->shape[0] != cols || t->shape[1] != rows) {
      return InvalidArgument("tensor '" + name + "' has shape " + ShapeString(t->shape) +
                             ", expected [" + std::to_string(cols) + ", " + std::to_string(rows) +
                             "]");
    }
    if (!MatMulImplements(t->type)) {
      return InvalidArgument("tensor '" + name + "' has type " +
                             std::to_string(static_cast<uint32_t>(t->type)) +
                             " which the matmul kernels do not implement");
    }
    const size_t row_bytes = RowBytes(t->type, cols);
    if (row_bytes == 0 || t->size_bytes != row_bytes * static_cast<uint64_t>(rows)) {
      return InvalidArgument("tensor '" + name + "': row length " + std::to_string(cols) +
                             " does not fit its type's blocks or size disagrees with shape");
    }
    return WeightView{t->type, rows, cols, f_.TensorData(*t), row_bytes};
  }

  // A 1-D vector of n values of any dequantisable type, as f32.
  Result<std::vector<float>> Vector(const std::string& name, int64_t n) const {
    const GgufTensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) return InvalidArgument("missing tensor '" + name + "'");
    if (t->shape.size() != 1 || t->shape[0] != n) {
      return InvalidArgument("tensor '" + name + "' has shape " + ShapeString(t->shape) +
                             ", expected [" + std::to_string(n) + "]");
    }
    const size_t row_bytes = RowBytes(t->type, n);
    if (!CanDequantize(t->type) || row_bytes == 0 || t->size_bytes != row_bytes) {
      return InvalidArgument("tensor '" + name + "' has an unsupported type or size");
    }
    std::vector<float> out(static_cast<size_t>(n));
    DequantizeRow(t->type, f_.TensorData(*t), out.data(), n);
    return out;
  }

 private:
  const GgufFile& f_;
};

}  // namespace

Result<LlamaHparams> ReadLlamaHparams(const GgufFile& f) {
  const std::optional<std::string> arch = f.GetString("general.architecture");
  if (!arch || *arch != "llama") {
    return InvalidArgument("general.architecture is '" + arch.value_or("<missing>") +
                           "', only 'llama' is supported");
  }
  LlamaHparams h;
  EF_ASSIGN_OR_RETURN(h.n_embd, RequireInt(f, "llama.embedding_length"));
  EF_ASSIGN_OR_RETURN(h.n_layer, RequireInt(f, "llama.block_count"));
  EF_ASSIGN_OR_RETURN(h.n_ff, RequireInt(f, "llama.feed_forward_length"));
  EF_ASSIGN_OR_RETURN(h.n_head, RequireInt(f, "llama.attention.head_count"));
  EF_ASSIGN_OR_RETURN(h.n_ctx_train, RequireInt(f, "llama.context_length"));
  h.n_head_kv = h.n_head;
  if (f.Find("llama.attention.head_count_kv") != nullptr) {
    EF_ASSIGN_OR_RETURN(h.n_head_kv, RequireInt(f, "llama.attention.head_count_kv"));
  }
  if (h.n_embd % h.n_head != 0 || h.n_head % h.n_head_kv != 0) {
    return InvalidArgument("embedding_length " + std::to_string(h.n_embd) + ", head_count " +
                           std::to_string(h.n_head) + " and head_count_kv " +
                           std::to_string(h.n_head_kv) + " do not divide");
  }
  h.head_dim = h.n_embd / h.n_head;
  h.n_rot = h.head_dim;
  if (f.Find("llama.rope.dimension_count") != nullptr) {
    EF_ASSIGN_OR_RETURN(h.n_rot, RequireInt(f, "llama.rope.dimension_count"));
  }
  if (h.n_rot > h.head_dim || h.n_rot % 2 != 0) {
    return InvalidArgument("rope.dimension_count " + std::to_string(h.n_rot) +
                           " must be even and at most the head size " + std::to_string(h.head_dim));
  }
  if (auto eps = f.GetFloat("llama.attention.layer_norm_rms_epsilon")) {
    h.rms_eps = static_cast<float>(*eps);
  }
  if (auto base = f.GetFloat("llama.rope.freq_base")) h.rope_freq_base = static_cast<float>(*base);
  if (!(h.rms_eps > 0) || !(h.rope_freq_base > 0)) {
    return InvalidArgument("rms epsilon and rope.freq_base must be positive");
  }
  const GgufTensorInfo* embd = f.FindTensor("token_embd.weight");
  if (embd == nullptr || embd->shape.size() != 2) {
    return InvalidArgument("missing or non-2-D tensor 'token_embd.weight'");
  }
  if (embd->shape[1] <= 0 || embd->shape[1] > (int64_t{1} << 24)) {
    return InvalidArgument("token_embd.weight vocabulary size out of range");
  }
  h.n_vocab = static_cast<int>(embd->shape[1]);
  return h;
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::Load(const std::filesystem::path& path) {
  EF_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(path));
  auto model = FromGguf(std::move(file));
  if (!model.ok()) return model.status().WithContext(path.string());
  return model;
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::FromGguf(std::unique_ptr<GgufFile> file) {
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  m->file_ = std::move(file);
  EF_ASSIGN_OR_RETURN(m->hparams_, ReadLlamaHparams(*m->file_));
  EF_RETURN_IF_ERROR(m->BindTensors());
  EF_ASSIGN_OR_RETURN(m->tokenizer_, Tokenizer::FromGguf(*m->file_));
  if (m->tokenizer_->vocab_size() != m->hparams_.n_vocab) {
    return InvalidArgument("tokenizer has " + std::to_string(m->tokenizer_->vocab_size()) +
                           " tokens but token_embd.weight has " +
                           std::to_string(m->hparams_.n_vocab));
  }
  return m;
}

LlamaModel::~LlamaModel() = default;

Status LlamaModel::BindTensors() {
  const LlamaHparams& h = hparams_;
  const Binder b(*file_);
  const int64_t n_kv = int64_t{h.n_head_kv} * h.head_dim;
  EF_ASSIGN_OR_RETURN(token_embd_, b.Matrix("token_embd.weight", h.n_vocab, h.n_embd));
  if (!CanDequantize(token_embd_.type)) {
    return InvalidArgument("token_embd.weight type cannot be dequantised");
  }
  EF_ASSIGN_OR_RETURN(output_norm_, b.Vector("output_norm.weight", h.n_embd));
  if (b.Find("output.weight") != nullptr) {
    EF_ASSIGN_OR_RETURN(output_, b.Matrix("output.weight", h.n_vocab, h.n_embd));
  } else {
    output_ = token_embd_;  // tied embeddings
  }
  layers_.resize(static_cast<size_t>(h.n_layer));
  for (int i = 0; i < h.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LlamaLayer& l = layers_[static_cast<size_t>(i)];
    EF_ASSIGN_OR_RETURN(l.attn_norm, b.Vector(p + "attn_norm.weight", h.n_embd));
    EF_ASSIGN_OR_RETURN(l.ffn_norm, b.Vector(p + "ffn_norm.weight", h.n_embd));
    EF_ASSIGN_OR_RETURN(l.wq, b.Matrix(p + "attn_q.weight", h.n_embd, h.n_embd));
    EF_ASSIGN_OR_RETURN(l.wk, b.Matrix(p + "attn_k.weight", n_kv, h.n_embd));
    EF_ASSIGN_OR_RETURN(l.wv, b.Matrix(p + "attn_v.weight", n_kv, h.n_embd));
    EF_ASSIGN_OR_RETURN(l.wo, b.Matrix(p + "attn_output.weight", h.n_embd, h.n_embd));
    EF_ASSIGN_OR_RETURN(l.ffn_gate, b.Matrix(p + "ffn_gate.weight", h.n_ff, h.n_embd));
    EF_ASSIGN_OR_RETURN(l.ffn_up, b.Matrix(p + "ffn_up.weight", h.n_ff, h.n_embd));
    EF_ASSIGN_OR_RETURN(l.ffn_down, b.Matrix(p + "ffn_down.weight", h.n_embd, h.n_ff));
  }
  return Status::Ok();
}

uint64_t LlamaModel::file_bytes() const {
  return file_->file_size();
}

uint64_t LlamaModel::tensor_bytes() const {
  uint64_t total = 0;
  for (const GgufTensorInfo& t : file_->tensors()) total += t.size_bytes;
  return total;
}

void LlamaModel::EmbedToken(int32_t token, float* out) const {
  const uint8_t* row = token_embd_.data + static_cast<size_t>(token) * token_embd_.row_stride;
  DequantizeRow(token_embd_.type, row, out, token_embd_.cols);
}

Result<KernelPath> ParseKernelPath(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.empty() || lower == "auto") return KernelPath::kAuto;
  if (lower == "scalar") return KernelPath::kScalar;
  if (lower == "avx2") return KernelPath::kAvx2;
  if (lower == "avx512") return KernelPath::kAvx512;
  if (lower == "neon") return KernelPath::kNeon;
  return InvalidArgument("unknown kernel path '" + std::string(name) +
                         "' (auto, scalar, avx2, avx512, neon)");
}

Result<KernelPath> KernelPathFromEnv() {
  const char* env = std::getenv("EDGEFARM_KERNEL_PATH");
  if (env == nullptr) return KernelPath::kAuto;
  auto path = ParseKernelPath(env);
  if (!path.ok()) return path.status().WithContext("EDGEFARM_KERNEL_PATH");
  return path;
}

}  // namespace edgefarm::engine
