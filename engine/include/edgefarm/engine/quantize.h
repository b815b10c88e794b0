// Model-level quantisation: choose a type per tensor (llama.cpp's mixes or an edgefarm recipe),
// quantise, and write a new GGUF file.
//
// Schemes: "q8_0", "q4_0", "q4_k_m" (llama.cpp ftypes, byte-identical to llama-quantize without
// an importance matrix), "int8_sym_pc", "int4_sym_g128" (OpenVINO/NNCF-style), "int4_affine_g64"
// (MLX-style), "f16". A tensor whose rows do not divide into the chosen type's blocks falls back
// to a type they do divide into (documented in docs/formats.md) and is listed in the report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine {

struct QuantizeParams {
  std::string scheme;  // see above
  bool pure = false;   // every 2-D tensor gets the scheme's base type (llama-quantize --pure)
  int threads = 1;
};
QuantizeParams DefaultQuantizeParams();  // scheme "q8_0", not pure, all hardware threads

struct TensorQuantizeRecord {
  std::string name;
  TensorType from = TensorType::kF32;
  TensorType to = TensorType::kF32;
  std::string fallback_reason;  // empty unless the wanted type could not be used
  // The type the scheme's mix asked for (equals `to` unless a fallback was taken).
  TensorType wanted = TensorType::kF32;
};

struct QuantizeReport {
  std::vector<TensorQuantizeRecord> tensors;
  uint64_t bytes_in = 0;   // tensor data bytes of the input
  uint64_t bytes_out = 0;  // tensor data bytes of the output
  uint64_t file_bytes_out = 0;
};

// Schemes QuantizeModel accepts.
const std::vector<std::string>& KnownSchemes();

Result<QuantizeReport> QuantizeModel(const std::filesystem::path& input,
                                     const std::filesystem::path& output,
                                     const QuantizeParams& params);

}  // namespace edgefarm::engine
