// Type choice per tensor, following llama.cpp's llama_model_quantize_impl / llama_tensor_get_type
// for the ftypes we produce (Q8_0, Q4_0, Q4_K_M, F16) on non-MoE, non-Falcon models, and the
// edgefarm recipes (docs/formats.md).
//
// llama.cpp rules reproduced: only 2-D+ tensors whose name ends in "weight" (not norms, not
// ffn_gate_inp, not position/token-type embeddings) are quantised; without --pure, output.weight
// (or token_embd.weight when there is no output tensor) becomes Q6_K unless the base type is
// Q8_0 or its rows do not divide into the base type's blocks (then Q8_0); for Q4_K_M, attn_v and
// ffn_down become Q6_K on the layers use_more_bits picks. A type whose block does not divide the
// row length falls back (Q4_K -> Q5_0, Q6_K -> Q8_0); past that llama.cpp uses F16 or gives up
// ("Unsupported tensor size"), and we keep the source precision instead (see Fallback).
#include "quantize_policy.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace edgefarm::engine::internal {
namespace {

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// -1 for names outside a block.
int LayerOf(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

// ggml_n_dims: trailing dimensions of extent 1 do not count.
int EffectiveDims(const std::vector<int64_t>& shape) {
  int n = static_cast<int>(shape.size());
  while (n > 1 && shape[static_cast<size_t>(n) - 1] == 1) --n;
  return n;
}

bool UseMoreBits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

bool IsQuantizable(const std::string& name, const std::vector<int64_t>& shape) {
  if (!EndsWith(name, "weight") || EffectiveDims(shape) < 2) return false;
  for (std::string_view skip :
       {"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight",
        "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"}) {
    if (Contains(name, skip)) return false;
  }
  return name != "position_embd.weight" && name != "token_types.weight";
}

std::string TypeName(TensorType t) {
  return std::string(GetTypeTraits(t)->name);
}

bool Divides(TensorType t, int64_t row_length) {
  return row_length % GetTypeTraits(t)->block_size == 0;
}

}  // namespace

std::optional<SchemeSpec> FindScheme(const std::string& name) {
  static const std::vector<SchemeSpec> kSchemes = {
      {"q8_0", TensorType::kQ8_0, 7, true},
      {"q4_0", TensorType::kQ4_0, 2, true},
      {"q4_k_m", TensorType::kQ4_K, 15, true},
      {"f16", TensorType::kF16, 1, false},
      {"int8_sym_pc", TensorType::kEfI8SymPerChannel, std::nullopt, false},
      {"int4_sym_g128", TensorType::kEfI4SymG128, std::nullopt, false},
      {"int4_affine_g64", TensorType::kEfI4AffineG64, std::nullopt, false},
  };
  for (const SchemeSpec& s : kSchemes) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

void SortTensorNames(std::vector<std::string>* names) {
  std::stable_sort(names->begin(), names->end(), [](const std::string& a, const std::string& b) {
    const int la = LayerOf(a), lb = LayerOf(b);
    if (la != lb) return la < lb;
    return a < b;
  });
}

TypePolicy::TypePolicy(SchemeSpec scheme, bool pure, const std::vector<std::string>& names,
                       int n_layer)
    : scheme_(std::move(scheme)), pure_(pure), n_layer_(n_layer) {
  std::set<int> layers;
  for (const std::string& name : names) {
    if (Contains(name, "attn_v.weight") || Contains(name, "attn_qkv.weight") ||
        Contains(name, "attn_kv_b.weight")) {
      ++n_attention_wv_;
    } else if (name == "output.weight") {
      has_output_ = true;
    }
    if (LayerOf(name) >= 0) layers.insert(LayerOf(name));
  }
  if (n_layer_ <= 0) n_layer_ = static_cast<int>(layers.size());
}

TensorType TypePolicy::LlamaMixType(const std::string& name, int64_t row_length) {
  TensorType t = scheme_.base;
  const bool is_q4_k_m = scheme_.name == "q4_k_m";
  if (name == "output.weight" || (!has_output_ && name == "token_embd.weight")) {
    if (!Divides(t, row_length)) {
      t = TensorType::kQ8_0;
    } else if (t != TensorType::kQ8_0) {
      t = TensorType::kQ6_K;
    }
  } else if (name == "token_embd.weight") {
    // No change for the ftypes we produce.
  } else if (Contains(name, "attn_v.weight")) {
    if (is_q4_k_m && UseMoreBits(i_attention_wv_, n_attention_wv_)) t = TensorType::kQ6_K;
    ++i_attention_wv_;
  } else if (Contains(name, "ffn_down")) {
    if (is_q4_k_m && UseMoreBits(i_ffn_down_, n_layer_)) t = TensorType::kQ6_K;
    ++i_ffn_down_;
  }
  return t;
}

TensorType TypePolicy::EdgefarmType(const std::string& name) const {
  // NNCF compresses the embedding and the last linear layer to INT8 in its INT4 modes unless
  // every layer is requested (--pure here).
  if (scheme_.base == TensorType::kEfI4SymG128 && !pure_ &&
      (name == "token_embd.weight" || name == "output.weight")) {
    return TensorType::kEfI8SymPerChannel;
  }
  return scheme_.base;
}

TensorType TypePolicy::Fallback(TensorType wanted, int64_t row_length, TensorType source) const {
  if (wanted == TensorType::kQ4_K && Divides(TensorType::kQ5_0, row_length)) {
    return TensorType::kQ5_0;
  }
  if (wanted == TensorType::kQ6_K && Divides(TensorType::kQ8_0, row_length)) {
    return TensorType::kQ8_0;
  }
  switch (scheme_.base) {
    case TensorType::kEfI4SymG128:
      return TensorType::kEfI8SymPerChannel;  // NNCF's 8-bit backup precision
    case TensorType::kEfI4AffineG64:
      return TensorType::kF16;  // mlx_lm leaves such layers unquantised (fp16)
    default:
      // llama.cpp would use F16 here, but its CPU backend computes wrong results for F16 rows
      // that are not a multiple of 32 (observed with stories260K's 172-wide ffn_down), so the
      // tensor keeps its source precision.
      return source == TensorType::kF16 ? TensorType::kF16 : TensorType::kF32;
  }
}

TypeChoice TypePolicy::Choose(const std::string& name, const std::vector<int64_t>& shape,
                              TensorType source) {
  TypeChoice c;
  if (!IsQuantizable(name, shape)) return c;
  c.quantize = true;
  const int64_t row_length = shape.empty() ? 0 : shape[0];
  if (!scheme_.llama_mix) {
    c.wanted = EdgefarmType(name);
  } else {
    c.wanted = pure_ ? scheme_.base : LlamaMixType(name, row_length);
  }
  c.used = c.wanted;
  if (Divides(c.used, row_length)) return c;
  c.used = Fallback(c.wanted, row_length, source);
  c.fallback_reason = "row length " + std::to_string(row_length) + " not a multiple of " +
                      std::to_string(GetTypeTraits(c.wanted)->block_size) + " (" +
                      TypeName(c.wanted) + "); using " + TypeName(c.used);
  return c;
}

}  // namespace edgefarm::engine::internal
