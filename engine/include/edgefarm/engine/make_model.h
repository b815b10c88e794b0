// Random-weight LLaMA models for benchmarks: the architecture llama.cpp loads, weights drawn from
// N(0, 0.02) by a fixed generator (the same file for the same parameters on every platform), RMS
// norm weights of 1, and a synthetic SPM vocabulary of exactly `vocab` tokens: <unk>, <s>, </s>,
// the 256 byte tokens <0x00>..<0xFF>, then single characters and character n-grams with
// decreasing scores so the SPM merges have work to do.
//
// Thread-safety: pure function of its parameters. Failure: InvalidArgument for inconsistent
// shapes, IoError when the file cannot be written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine {

struct MakeModelParams {
  int dim = 64;
  int layers = 2;
  int ff = 172;
  int heads = 8;
  int kv_heads = 4;
  int vocab = 512;
  uint64_t seed = 1;
  TensorType type = TensorType::kF32;  // kF32 or kF16 for the 2-D weights; norms stay f32
  int context_length = 2048;
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  std::string name = "edgefarm-random";
};

// The smallest vocabulary MakeModel accepts: 3 specials + 256 bytes + a space-mark token.
inline constexpr int kMinMakeModelVocab = 260;

Status MakeModel(const std::filesystem::path& output, const MakeModelParams& params);

}  // namespace edgefarm::engine
