// edgefarm-engine quantize IN OUT --scheme S [--pure] [--threads T]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "commands.h"
#include "edgefarm/engine/quantize.h"

namespace edgefarm::engine::tools {
namespace {

constexpr const char* kUsage =
    "usage: edgefarm-engine quantize IN OUT --scheme S [--pure] [--threads T]\n"
    "schemes: q8_0 q4_0 q4_k_m f16 int8_sym_pc int4_sym_g128 int4_affine_g64\n";

void PrintReport(const QuantizeReport& r) {
  int changed = 0, fallbacks = 0;
  for (const TensorQuantizeRecord& t : r.tensors) {
    const std::string from(GetTypeTraits(t.from).value().name);
    const std::string to(GetTypeTraits(t.to).value().name);
    std::printf("%-32s %-6s -> %-16s%s%s\n", t.name.c_str(), from.c_str(), to.c_str(),
                t.fallback_reason.empty() ? "" : "  fallback: ", t.fallback_reason.c_str());
    changed += t.from != t.to;
    fallbacks += !t.fallback_reason.empty();
  }
  std::printf("tensors: %zu (%d converted, %d fallbacks)\n", r.tensors.size(), changed, fallbacks);
  std::printf("tensor data: %.3f MiB -> %.3f MiB (%.2fx smaller); file %llu bytes\n",
              static_cast<double>(r.bytes_in) / (1 << 20),
              static_cast<double>(r.bytes_out) / (1 << 20),
              r.bytes_out ? static_cast<double>(r.bytes_in) / static_cast<double>(r.bytes_out) : 0,
              static_cast<unsigned long long>(r.file_bytes_out));
}

}  // namespace

int RunQuantize(int argc, char** argv) {
  QuantizeParams params = DefaultQuantizeParams();
  params.scheme.clear();
  const char* in = nullptr;
  const char* out = nullptr;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--scheme") == 0 && has_value) {
      params.scheme = argv[++i];
    } else if (std::strcmp(argv[i], "--threads") == 0 && has_value) {
      params.threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--pure") == 0) {
      params.pure = true;
    } else if (argv[i][0] != '-' && in == nullptr) {
      in = argv[i];
    } else if (argv[i][0] != '-' && out == nullptr) {
      out = argv[i];
    } else {
      std::fprintf(stderr, "quantize: unexpected argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (in == nullptr || out == nullptr || params.scheme.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto report = QuantizeModel(in, out, params);
  if (!report.ok()) {
    std::fprintf(stderr, "quantize: %s\n", report.status().ToString().c_str());
    return 1;
  }
  PrintReport(*report);
  return 0;
}

}  // namespace edgefarm::engine::tools
