// edgefarm-engine make-model OUT --dim D --layers L --ff F --heads H --kv-heads K --vocab V
//                            --seed S [--type f16|f32] [--ctx N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "commands.h"
#include "edgefarm/engine/make_model.h"

namespace edgefarm::engine::tools {
namespace {

constexpr const char* kUsage =
    "usage: edgefarm-engine make-model OUT --dim D --layers L --ff F --heads H --kv-heads K "
    "--vocab V --seed S [--type f16|f32] [--ctx N]\n";

bool ParseInt(const char* s, long long* out) {
  char* end = nullptr;
  *out = std::strtoll(s, &end, 10);
  return end != s && *end == '\0';
}

}  // namespace

int RunMakeModel(int argc, char** argv) {
  MakeModelParams p;
  const char* out = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag[0] != '-' && out == nullptr) {
      out = argv[i];
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "make-model: %s needs a value\n%s", flag.c_str(), kUsage);
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--type") {
      if (std::strcmp(value, "f16") == 0) {
        p.type = TensorType::kF16;
      } else if (std::strcmp(value, "f32") == 0) {
        p.type = TensorType::kF32;
      } else {
        std::fprintf(stderr, "make-model: --type must be f16 or f32\n");
        return 2;
      }
      continue;
    }
    long long v = 0;
    if (!ParseInt(value, &v) || v < 0 || v > (1ll << 30)) {
      std::fprintf(stderr, "make-model: %s: '%s' is not a valid number\n", flag.c_str(), value);
      return 2;
    }
    const int iv = static_cast<int>(v);
    if (flag == "--dim")
      p.dim = iv;
    else if (flag == "--layers")
      p.layers = iv;
    else if (flag == "--ff")
      p.ff = iv;
    else if (flag == "--heads")
      p.heads = iv;
    else if (flag == "--kv-heads")
      p.kv_heads = iv;
    else if (flag == "--vocab")
      p.vocab = iv;
    else if (flag == "--ctx")
      p.context_length = iv;
    else if (flag == "--seed")
      p.seed = static_cast<uint64_t>(v);
    else {
      std::fprintf(stderr, "make-model: unknown flag %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
  }
  if (out == nullptr) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (Status s = MakeModel(out, p); !s.ok()) {
    std::fprintf(stderr, "make-model: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("wrote %s\n", out);
  return 0;
}

}  // namespace edgefarm::engine::tools
