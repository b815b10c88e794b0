// Per-tensor type choice for QuantizeModel: llama.cpp's mixes and the edgefarm recipes.
// Internal to the engine (quantize.cc and its tests).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine::internal {

struct SchemeSpec {
  std::string name;               // "q4_k_m", ...
  TensorType base;                // the scheme's default type for 2-D weights
  std::optional<uint32_t> ftype;  // llama.cpp general.file_type; nullopt for edgefarm schemes
  bool llama_mix = false;         // apply llama_tensor_get_type's per-tensor rules
};

std::optional<SchemeSpec> FindScheme(const std::string& name);

// What the policy decided for one tensor.
struct TypeChoice {
  bool quantize = false;  // false: the tensor is copied unchanged
  TensorType wanted = TensorType::kF32;
  TensorType used = TensorType::kF32;
  std::string fallback_reason;  // non-empty when used != wanted
};

// Stateful like llama.cpp's quantize_state_impl: attn_v and ffn_down tensors are counted in the
// order they are offered, which must be the output order (SortTensorNames).
class TypePolicy {
 public:
  // names: all tensor names of the model; n_layer: the architecture's block_count (0 when
  // unknown: then the number of distinct blk.N prefixes).
  TypePolicy(SchemeSpec scheme, bool pure, const std::vector<std::string>& names, int n_layer);

  // source: the tensor's type in the input (the last-resort fallback keeps it for llama schemes).
  TypeChoice Choose(const std::string& name, const std::vector<int64_t>& shape, TensorType source);

 private:
  TensorType LlamaMixType(const std::string& name, int64_t row_length);
  TensorType EdgefarmType(const std::string& name) const;
  TensorType Fallback(TensorType wanted, int64_t row_length, TensorType source) const;

  SchemeSpec scheme_;
  bool pure_;
  bool has_output_ = false;
  int n_attention_wv_ = 0;
  int i_attention_wv_ = 0;
  int n_layer_ = 0;
  int i_ffn_down_ = 0;
};

// llama.cpp's weight_name_comparer order: tensors outside blocks first (by name), then by block
// number, then by name.
void SortTensorNames(std::vector<std::string>* names);

}  // namespace edgefarm::engine::internal
