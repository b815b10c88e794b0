// libFuzzer target: arbitrary bytes through the GGUF parser, then everything a loader does with
// a parsed file (touch every tensor's data, dequantise a row, build the tokenizer and encode).
// Build: cmake -DEDGEFARM_BUILD_FUZZERS=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
// Run:   ./gguf_fuzzer -max_total_time=180 CORPUS_DIR  (seed it with tests/data/models/*.gguf)
#include <cstddef>
#include <cstdint>
#include <vector>

#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/quant.h"
#include "edgefarm/engine/tokenizer.h"

using edgefarm::engine::CanDequantize;
using edgefarm::engine::DequantizeRow;
using edgefarm::engine::GgufFile;
using edgefarm::engine::GgufTensorInfo;
using edgefarm::engine::Tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = GgufFile::FromMemory(data, size);
  if (!file.ok()) return 0;
  uint32_t sink = 0;
  for (const GgufTensorInfo& t : (*file)->tensors()) {
    if (t.size_bytes == 0) continue;
    const uint8_t* p = (*file)->TensorData(t);
    sink += p[0] + p[t.size_bytes - 1];
    const int64_t n = t.shape[0];
    if (CanDequantize(t.type) && n > 0 && n <= 4096) {
      std::vector<float> row(static_cast<size_t>(n));
      DequantizeRow(t.type, p, row.data(), n);
    }
  }
  auto tok = Tokenizer::FromGguf(**file);
  if (tok.ok()) {
    const auto ids = (*tok)->Encode("Once upon a time, \xE6\x97\xA5 caf\xC3\xA9", true);
    sink += static_cast<uint32_t>((*tok)->Decode(ids).size());
  }
  return sink == 0xFFFFFFFFu ? -1 : 0;  // keep `sink` observable
}
