// edgefarm-engine eval MODEL --text FILE [--ctx N] [--chunks N] [--baseline BASE] [--threads T]
//                     [--json]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/engine/evaluator.h"
#include "edgefarm/engine/model.h"

namespace edgefarm::engine::tools {
namespace {

bool ParseInt(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

void Print(const EvalResult& r, bool json) {
  if (json) {
    nlohmann::ordered_json j = {{"text_tokens", r.text_tokens}, {"chunks", r.chunks},
                                {"scored", r.scored},           {"ppl", r.ppl},
                                {"ppl_stderr", r.ppl_stderr},   {"nll_mean", r.nll_mean}};
    if (r.has_baseline) {
      j["baseline_ppl"] = r.baseline_ppl;
      j["ppl_ratio"] = r.ppl_ratio;
      j["kld_mean"] = r.kld_mean;
      j["kld_median"] = r.kld_median;
      j["kld_p99"] = r.kld_p99;
      j["top1_agreement"] = r.top1_agreement;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("tokens %lld, chunks %d, scored %lld\nPPL %.4f ± %.4f\n",
              static_cast<long long>(r.text_tokens), r.chunks, static_cast<long long>(r.scored),
              r.ppl, r.ppl_stderr);
  if (r.has_baseline) {
    std::printf(
        "baseline PPL %.4f, PPL ratio %.5f\nmean KLD %.6f, median %.6f, p99 %.6f\n"
        "same top: %.3f %%\n",
        r.baseline_ppl, r.ppl_ratio, r.kld_mean, r.kld_median, r.kld_p99, 100 * r.top1_agreement);
  }
}

}  // namespace

int RunEval(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: eval MODEL --text FILE [--ctx N] [--chunks N] "
                 "[--baseline BASE] [--threads T] [--json]\n");
    return 2;
  }
  EvalParams p = DefaultEvalParams();
  std::string text_path, baseline_path;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    long v = 0;
    if (a == "--json") {
      json = true;
    } else if (a == "--text" && has_value) {
      text_path = argv[++i];
    } else if (a == "--baseline" && has_value) {
      baseline_path = argv[++i];
    } else if (a == "--ctx" && has_value && ParseInt(argv[++i], 4, 65536, &v)) {
      p.n_ctx = static_cast<int>(v);
    } else if (a == "--chunks" && has_value && ParseInt(argv[++i], 0, 1 << 30, &v)) {
      p.max_chunks = static_cast<int>(v);
    } else if (a == "--threads" && has_value && ParseInt(argv[++i], 1, 1024, &v)) {
      p.threads = static_cast<int>(v);
    } else {
      std::fprintf(stderr, "eval: bad or incomplete argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (text_path.empty()) {
    std::fprintf(stderr, "eval: --text FILE is required\n");
    return 2;
  }
  auto path = KernelPathFromEnv();
  if (!path.ok()) {
    std::fprintf(stderr, "eval: %s\n", path.status().ToString().c_str());
    return 2;
  }
  p.kernel_path = *path;
  std::ifstream in(text_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "eval: cannot read %s\n", text_path.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto model = LlamaModel::Load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "eval: %s\n", model.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<LlamaModel> baseline;
  if (!baseline_path.empty()) {
    auto b = LlamaModel::Load(baseline_path);
    if (!b.ok()) {
      std::fprintf(stderr, "eval: %s\n", b.status().ToString().c_str());
      return 1;
    }
    baseline = std::move(*b);
  }
  auto r = Evaluate(**model, text.str(), p, baseline.get());
  if (!r.ok()) {
    std::fprintf(stderr, "eval: %s\n", r.status().ToString().c_str());
    return 1;
  }
  Print(*r, json);
  return 0;
}

}  // namespace edgefarm::engine::tools
