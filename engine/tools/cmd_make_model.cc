// edgefarm-engine make-model OUT --dim D --layers L --ff F --heads H --kv-heads K --vocab V
//                            --seed S [--type f16|f32] [--ctx N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "commands.h"
#include "edgefarm/engine/make_model.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

constexpr const char* kUsage =
    "usage: edgefarm-engine make-model OUT --dim D --layers L --ff F --heads H --kv-heads K "
    "--vocab V --seed S [--type f16|f32] [--ctx N]\n";

// --type: false unless f16 or f32.
bool SetType(const char* value, MakeModelParams* p) {
  if (std::strcmp(value, "f16") == 0) {
    p->type = TensorType::kF16;
  } else if (std::strcmp(value, "f32") == 0) {
    p->type = TensorType::kF32;
  } else {
    return false;
  }
  return true;
}

// The numeric flags; false for a flag that is not one of them.
bool SetNumber(const std::string& flag, long v, MakeModelParams* p) {
  const int iv = static_cast<int>(v);
  if (flag == "--dim") {
    p->dim = iv;
  } else if (flag == "--layers") {
    p->layers = iv;
  } else if (flag == "--ff") {
    p->ff = iv;
  } else if (flag == "--heads") {
    p->heads = iv;
  } else if (flag == "--kv-heads") {
    p->kv_heads = iv;
  } else if (flag == "--vocab") {
    p->vocab = iv;
  } else if (flag == "--ctx") {
    p->context_length = iv;
  } else if (flag == "--seed") {
    p->seed = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return true;
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
      if (!SetType(value, &p)) {
        std::fprintf(stderr, "make-model: --type must be f16 or f32\n");
        return 2;
      }
      continue;
    }
    long v = 0;
    if (!ParseInt(value, 0, 1L << 30, &v)) {
      std::fprintf(stderr, "make-model: %s: '%s' is not a valid number\n", flag.c_str(), value);
      return 2;
    }
    if (!SetNumber(flag, v, &p)) {
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
