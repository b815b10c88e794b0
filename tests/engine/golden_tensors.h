// The per-tensor line of the golden tables (tests/data/golden/*.tensors.txt) that llama.cpp's
// tools produced: name, upper-case type, shape and the first 16 hex digits of the data's SHA-256,
// computed the same way for our own GGUF files so the two can be compared line by line.
#pragma once

#include <cctype>
#include <ostream>
#include <string>
#include <string_view>

#include "edgefarm/common/sha256.h"
#include "edgefarm/engine/gguf.h"

namespace edgefarm::engine {

struct TensorLine {
  std::string name, type, shape, hash;  // shape as "[64, 512]", hash 16 hex digits
  bool operator==(const TensorLine&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const TensorLine& l) {
  return os << l.name << " " << l.type << " " << l.shape << " sha256=" << l.hash;
}

inline TensorLine DescribeTensor(const GgufFile& file, const GgufTensorInfo& t) {
  TensorLine l;
  l.name = t.name;
  const std::string_view type_name = GetTypeTraits(t.type).value().name;
  for (char c : type_name) l.type += static_cast<char>(std::toupper(c));
  l.shape = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i > 0) l.shape += ", ";
    l.shape += std::to_string(t.shape[i]);
  }
  l.shape += "]";
  const auto* data = reinterpret_cast<const char*>(file.TensorData(t));
  l.hash = Sha256Hex(std::string_view(data, t.size_bytes)).substr(0, 16);
  return l;
}

}  // namespace edgefarm::engine
