// edgefarm-engine load URL (--requests N | --duration-s D) [--concurrency C] [--max-tokens M]
//   [--prompt TEXT] [--json]
// Drives serving::RunLoad against a loopback server (an inference server or a traffic router)
// and prints p50/p95/p99, error rate and throughput. Exit 0 when the load ran, 1 when it could
// not, 2 for bad flags. Used by bench/serve_load.sh.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/serving/load_generator.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

struct LoadFlags {
  serving::LoadOptions load;
  std::string prompt = "Once upon a time";
  int max_tokens = 16;
  bool json = false;
};

bool ParseLoadFlags(int argc, char** argv, LoadFlags* f) {
  f->load.url = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    double v = 0;
    bool ok = i + 1 < argc || a == "--json";
    if (a == "--json") {
      f->json = true;
    } else if (ok && a == "--requests" && (ok = ParseNumber(argv[++i], 1, 1e6, &v))) {
      f->load.requests = static_cast<int64_t>(v);
    } else if (ok && a == "--duration-s" && (ok = ParseNumber(argv[++i], 0.001, 3600, &v))) {
      f->load.duration = std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
    } else if (ok && a == "--concurrency" && (ok = ParseNumber(argv[++i], 1, 256, &v))) {
      f->load.concurrency = static_cast<int>(v);
    } else if (ok && a == "--max-tokens" && (ok = ParseNumber(argv[++i], 0, 512, &v))) {
      f->max_tokens = static_cast<int>(v);
    } else if (ok && a == "--prompt") {
      f->prompt = argv[++i];
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "load: bad or incomplete argument '%s'\n", argv[i]);
      return false;
    }
  }
  f->load.body =
      nlohmann::json{{"prompt", f->prompt}, {"max_tokens", f->max_tokens}, {"temperature", 0}}
          .dump();
  return true;
}

}  // namespace

int RunLoadCommand(int argc, char** argv) {
  LoadFlags f;
  if (argc < 2 || !ParseLoadFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: load URL (--requests N | --duration-s D) [--concurrency C] "
                 "[--max-tokens M] [--prompt TEXT] [--json]\n");
    return 2;
  }
  auto report = serving::RunLoad(f.load);
  if (!report.ok()) {
    std::fprintf(stderr, "load: %s\n", report.status().ToString().c_str());
    return report.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  const serving::LoadReport& r = *report;
  if (f.json) {
    nlohmann::json j{{"requests", r.requests},
                     {"errors", r.errors},
                     {"error_rate", r.error_rate},
                     {"p50_ms", r.p50_ms},
                     {"p95_ms", r.p95_ms},
                     {"p99_ms", r.p99_ms},
                     {"max_ms", r.max_ms},
                     {"mean_ms", r.mean_ms},
                     {"elapsed_s", r.elapsed_s},
                     {"throughput_rps", r.throughput_rps},
                     {"concurrency", f.load.concurrency},
                     {"max_tokens", f.max_tokens}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "requests %lld  errors %lld (%.4f)  p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  "
        "%.1f req/s over %.2f s (concurrency %d, max_tokens %d)\n",
        static_cast<long long>(r.requests), static_cast<long long>(r.errors), r.error_rate,
        r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms, r.throughput_rps, r.elapsed_s, f.load.concurrency,
        f.max_tokens);
  }
  return 0;
}

}  // namespace edgefarm::engine::tools
