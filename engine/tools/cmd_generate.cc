// edgefarm-engine generate MODEL --prompt TEXT [-n N] [--threads T] [--temp X] [--seed S]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/engine/generate.h"
#include "edgefarm/engine/model.h"
#include "flags.h"

namespace edgefarm::engine::tools {
int RunGenerate(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: generate MODEL --prompt TEXT [-n N] [--threads T] "
                 "[--temp X] [--seed S]\n");
    return 2;
  }
  GenerateParams p = DefaultGenerateParams();
  auto path = KernelPathFromEnv();
  if (!path.ok()) {
    std::fprintf(stderr, "generate: %s\n", path.status().ToString().c_str());
    return 2;
  }
  p.kernel_path = *path;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    long v = 0;
    if (a == "--prompt" && has_value) {
      p.prompt = argv[++i];
    } else if ((a == "-n" || a == "--n-predict") && has_value &&
               ParseInt(argv[++i], 0, 1 << 20, &v)) {
      p.n_predict = static_cast<int>(v);
    } else if (a == "--threads" && has_value && ParseInt(argv[++i], 1, 1024, &v)) {
      p.threads = static_cast<int>(v);
    } else if (a == "--seed" && has_value && ParseInt(argv[++i], 0, 1L << 62, &v)) {
      p.seed = static_cast<uint64_t>(v);
    } else if (a == "--temp" && has_value) {
      p.temperature = std::strtof(argv[++i], nullptr);
    } else {
      std::fprintf(stderr, "generate: bad or incomplete argument '%s'\n", argv[i]);
      return 2;
    }
  }
  auto model = LlamaModel::Load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "generate: %s\n", model.status().ToString().c_str());
    return 1;
  }
  std::fputs(p.prompt.c_str(), stdout);
  auto result = Generate(**model, p, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  if (!result.ok()) {
    std::fprintf(stderr, "generate: %s\n", result.status().ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace edgefarm::engine::tools
