// The llama SentencePiece (SPM) tokenizer built from a GGUF vocabulary
// (tokenizer.ggml.tokens / scores / token_type), producing the same ids as llama.cpp.
// Thread-safety: immutable after construction; Encode/Decode may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::engine {

class GgufFile;

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);
  virtual ~Tokenizer() = default;

  // llama.cpp semantics: a leading space is added (SPM "add_dummy_prefix"), BOS first when
  // add_bos.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;
  virtual std::string TokenToPiece(int32_t id) const = 0;
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;
  virtual int32_t bos() const = 0;
  virtual int32_t eos() const = 0;
  virtual int32_t vocab_size() const = 0;
};

}  // namespace edgefarm::engine
