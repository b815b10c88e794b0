// GgufValue accessors and constructors, GgufTensorInfo helpers.
#include <cmath>
#include <limits>

#include "edgefarm/engine/gguf.h"

namespace edgefarm::engine {

std::optional<int64_t> GgufValue::AsInt() const {
  if (const auto* u = std::get_if<uint64_t>(&value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  if (const auto* b = std::get_if<bool>(&value)) return *b ? 1 : 0;
  return std::nullopt;
}

std::optional<double> GgufValue::AsFloat() const {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<std::string> GgufValue::AsString() const {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return std::nullopt;
}

const GgufArray* GgufValue::AsArray() const {
  return std::get_if<GgufArray>(&value);
}

GgufValue GgufValue::U32(uint32_t v) {
  return {GgufValueType::kUint32, uint64_t{v}};
}
GgufValue GgufValue::I32(int32_t v) {
  return {GgufValueType::kInt32, int64_t{v}};
}
GgufValue GgufValue::F32(float v) {
  return {GgufValueType::kFloat32, double{v}};
}
GgufValue GgufValue::Bool(bool v) {
  return {GgufValueType::kBool, v};
}
GgufValue GgufValue::Str(std::string v) {
  return {GgufValueType::kString, std::move(v)};
}

GgufValue GgufValue::StrArray(std::vector<std::string> v) {
  GgufArray a;
  a.element_type = GgufValueType::kString;
  a.values.reserve(v.size());
  for (std::string& s : v) a.values.push_back(Str(std::move(s)));
  return {GgufValueType::kArray, std::move(a)};
}

GgufValue GgufValue::F32Array(const std::vector<float>& v) {
  GgufArray a;
  a.element_type = GgufValueType::kFloat32;
  a.values.reserve(v.size());
  for (float f : v) a.values.push_back(F32(f));
  return {GgufValueType::kArray, std::move(a)};
}

GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  GgufArray a;
  a.element_type = GgufValueType::kInt32;
  a.values.reserve(v.size());
  for (int32_t i : v) a.values.push_back(I32(i));
  return {GgufValueType::kArray, std::move(a)};
}

int64_t GgufTensorInfo::Elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t GgufTensorInfo::Rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

}  // namespace edgefarm::engine
