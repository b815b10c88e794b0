// edgefarm-engine info MODEL: header, metadata (long arrays abbreviated) and the tensor table.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "commands.h"
#include "edgefarm/engine/gguf.h"

namespace edgefarm::engine::tools {
namespace {

std::string Scalar(const GgufValue& v) {
  if (auto s = v.AsString()) {
    std::string quoted = "\"";
    quoted += s->size() > 60 ? s->substr(0, 60) + "..." : *s;
    return quoted + "\"";
  }
  if (v.type == GgufValueType::kFloat32 || v.type == GgufValueType::kFloat64) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v.AsFloat().value_or(0));
    return buf;
  }
  if (v.type == GgufValueType::kBool) return v.AsInt().value_or(0) ? "true" : "false";
  if (auto i = v.AsInt()) return std::to_string(*i);
  if (const auto* u = std::get_if<uint64_t>(&v.value)) return std::to_string(*u);
  return "?";
}

std::string Render(const GgufValue& v) {
  const GgufArray* a = v.AsArray();
  if (a == nullptr) return Scalar(v);
  std::string s = "[";
  s += std::to_string(a->values.size()) + " items: ";
  for (size_t i = 0; i < a->values.size() && i < 5; ++i) {
    if (i > 0) s += ", ";
    s += Scalar(a->values[i]);
  }
  return s + (a->values.size() > 5 ? ", ...]" : "]");
}

}  // namespace

int RunInfo(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: edgefarm-engine info MODEL\n");
    return 2;
  }
  auto file = GgufFile::Open(argv[1]);
  if (!file.ok()) {
    std::fprintf(stderr, "info: %s\n", file.status().ToString().c_str());
    return 1;
  }
  const GgufFile& f = **file;
  std::printf("file: %s\nversion: %u  alignment: %u  size: %" PRIu64 " bytes  data offset: %" PRIu64
              "\n",
              argv[1], f.version(), f.alignment(), f.file_size(), f.data_offset());
  std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    std::printf("  %-44s %s\n", key.c_str(), Render(value).c_str());
  }
  uint64_t elements = 0, bytes = 0;
  std::printf("\ntensors (%zu):\n", f.tensors().size());
  for (const GgufTensorInfo& t : f.tensors()) {
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i)
      shape += (i ? " x " : "") + std::to_string(t.shape[i]);
    const std::string type(GetTypeTraits(t.type).value().name);
    std::printf("  %-32s %-16s %-14s %12" PRIu64 " bytes\n", t.name.c_str(), type.c_str(),
                shape.c_str(), t.size_bytes);
    elements += static_cast<uint64_t>(t.Elements());
    bytes += t.size_bytes;
  }
  std::printf("\nparameters: %" PRIu64 "  tensor data: %" PRIu64 " bytes (%.3f bits/weight)\n",
              elements, bytes, elements ? 8.0 * static_cast<double>(bytes) / elements : 0.0);
  return 0;
}

}  // namespace edgefarm::engine::tools
