// MakeModel: a LLaMA GGUF with random weights and a synthetic SPM vocabulary.
//
// Randomness comes from splitmix64 and a Box-Muller transform in double precision, written here
// rather than taken from <random>, whose distributions differ between standard libraries: the
// same parameters must give the same bytes everywhere so benchmark models can be regenerated
// instead of shipped. Each tensor draws from its own stream (seed mixed with the tensor's
// index), so adding a tensor does not change the others.
#include "edgefarm/engine/make_model.h"

#include <cmath>
#include <set>
#include <vector>

#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/quant.h"

namespace edgefarm::engine {
namespace {

constexpr float kWeightStddev = 0.02f;
constexpr const char* kSpaceMark = "\xE2\x96\x81";

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1): never 0, so the logarithm below is finite.
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

std::vector<float> Gaussian(uint64_t seed, uint64_t stream, size_t n) {
  SplitMix64 rng(seed * 0x100000001B3ull + stream);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.Uniform()));
    const double theta = 2.0 * M_PI * rng.Uniform();
    out[i] = static_cast<float>(r * std::cos(theta) * kWeightStddev);
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(theta) * kWeightStddev);
  }
  return out;
}

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};

// Specials, bytes, then strings over a fixed alphabet in order of length: every n-gram's
// prefixes are tokens before it, so each is reachable by SPM merges.
Vocab SyntheticVocab(int size) {
  Vocab v;
  auto add = [&v](std::string t, int32_t type) {
    v.scores.push_back(type == 1 ? -static_cast<float>(v.tokens.size()) : 0.0f);
    v.tokens.push_back(std::move(t));
    v.types.push_back(type);
  };
  add("<unk>", 2);
  add("<s>", 3);
  add("</s>", 3);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    add(name, 6);
  }
  std::vector<std::string> alphabet = {kSpaceMark};
  for (char c : std::string("etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789"
                            ".,!?'\"-:;()")) {
    alphabet.emplace_back(1, c);
  }
  std::vector<std::string> level = {""};
  std::set<std::string> seen;
  while (static_cast<int>(v.tokens.size()) < size) {
    std::vector<std::string> next;
    for (const std::string& prefix : level) {
      for (const std::string& a : alphabet) {
        if (static_cast<int>(v.tokens.size()) >= size) break;
        std::string t = prefix + a;
        if (seen.insert(t).second) add(t, 1);
        next.push_back(std::move(t));
      }
    }
    level = std::move(next);
  }
  return v;
}

Status Validate(const MakeModelParams& p) {
  if (p.dim <= 0 || p.layers <= 0 || p.ff <= 0 || p.heads <= 0 || p.kv_heads <= 0) {
    return InvalidArgument("make-model: dim, layers, ff, heads and kv-heads must be positive");
  }
  if (p.dim % p.heads != 0) return InvalidArgument("make-model: dim must be a multiple of heads");
  if (p.heads % p.kv_heads != 0) {
    return InvalidArgument("make-model: heads must be a multiple of kv-heads");
  }
  if ((p.dim / p.heads) % 2 != 0) return InvalidArgument("make-model: head size must be even");
  if (p.vocab < kMinMakeModelVocab) {
    return InvalidArgument("make-model: vocab must be at least " +
                           std::to_string(kMinMakeModelVocab));
  }
  if (p.type != TensorType::kF32 && p.type != TensorType::kF16) {
    return InvalidArgument("make-model: type must be f32 or f16");
  }
  return Status::Ok();
}

GgufMetadata Metadata(const MakeModelParams& p) {
  const Vocab vocab = SyntheticVocab(p.vocab);
  GgufMetadata md;
  md.emplace_back("general.architecture", GgufValue::Str("llama"));
  md.emplace_back("general.name", GgufValue::Str(p.name));
  md.emplace_back("general.file_type", GgufValue::U32(p.type == TensorType::kF16 ? 1 : 0));
  md.emplace_back("llama.vocab_size", GgufValue::U32(static_cast<uint32_t>(p.vocab)));
  md.emplace_back("llama.context_length", GgufValue::U32(static_cast<uint32_t>(p.context_length)));
  md.emplace_back("llama.embedding_length", GgufValue::U32(static_cast<uint32_t>(p.dim)));
  md.emplace_back("llama.block_count", GgufValue::U32(static_cast<uint32_t>(p.layers)));
  md.emplace_back("llama.feed_forward_length", GgufValue::U32(static_cast<uint32_t>(p.ff)));
  md.emplace_back("llama.rope.dimension_count",
                  GgufValue::U32(static_cast<uint32_t>(p.dim / p.heads)));
  md.emplace_back("llama.rope.freq_base", GgufValue::F32(p.rope_freq_base));
  md.emplace_back("llama.attention.head_count", GgufValue::U32(static_cast<uint32_t>(p.heads)));
  md.emplace_back("llama.attention.head_count_kv",
                  GgufValue::U32(static_cast<uint32_t>(p.kv_heads)));
  md.emplace_back("llama.attention.layer_norm_rms_epsilon", GgufValue::F32(p.rms_eps));
  md.emplace_back("tokenizer.ggml.model", GgufValue::Str("llama"));
  md.emplace_back("tokenizer.ggml.tokens", GgufValue::StrArray(vocab.tokens));
  md.emplace_back("tokenizer.ggml.scores", GgufValue::F32Array(vocab.scores));
  md.emplace_back("tokenizer.ggml.token_type", GgufValue::I32Array(vocab.types));
  md.emplace_back("tokenizer.ggml.unknown_token_id", GgufValue::U32(0));
  md.emplace_back("tokenizer.ggml.bos_token_id", GgufValue::U32(1));
  md.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::U32(2));
  md.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
  md.emplace_back("tokenizer.ggml.add_eos_token", GgufValue::Bool(false));
  return md;
}

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool norm;
};

std::vector<TensorSpec> Tensors(const MakeModelParams& p) {
  const int64_t d = p.dim, kv = static_cast<int64_t>(p.dim / p.heads) * p.kv_heads, f = p.ff;
  std::vector<TensorSpec> t = {{"token_embd.weight", {d, p.vocab}, false},
                               {"output_norm.weight", {d}, true},
                               {"output.weight", {d, p.vocab}, false}};
  for (int i = 0; i < p.layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", {d}, true});
    t.push_back({b + "attn_q.weight", {d, d}, false});
    t.push_back({b + "attn_k.weight", {d, kv}, false});
    t.push_back({b + "attn_v.weight", {d, kv}, false});
    t.push_back({b + "attn_output.weight", {d, d}, false});
    t.push_back({b + "ffn_norm.weight", {d}, true});
    t.push_back({b + "ffn_gate.weight", {d, f}, false});
    t.push_back({b + "ffn_down.weight", {f, d}, false});
    t.push_back({b + "ffn_up.weight", {d, f}, false});
  }
  return t;
}

}  // namespace

Status MakeModel(const std::filesystem::path& output, const MakeModelParams& params) {
  EF_RETURN_IF_ERROR(Validate(params));
  GgufWriter writer;
  writer.SetMetadata(Metadata(params));
  const std::vector<TensorSpec> specs = Tensors(params);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    int64_t n = 1;
    for (int64_t e : s.shape) n *= e;
    const std::vector<float> values = s.norm ? std::vector<float>(static_cast<size_t>(n), 1.0f)
                                             : Gaussian(params.seed, i, static_cast<size_t>(n));
    const TensorType type = s.norm ? TensorType::kF32 : params.type;
    std::vector<uint8_t> data(RowBytes(type, n));
    QuantizeRow(type, values.data(), data.data(), n);
    writer.AddTensor(s.name, type, s.shape, std::move(data));
  }
  return writer.WriteTo(output);
}

}  // namespace edgefarm::engine
