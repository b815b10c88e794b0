// edgefarm-engine eval MODEL --text FILE [--ctx N] [--chunks N] [--baseline BASE] [--threads T]
//                     [--json]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/engine/evaluator.h"
#include "edgefarm/engine/model.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

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

struct EvalFlags {
  EvalParams params = DefaultEvalParams();
  std::string text_path, baseline_path;
  bool json = false;
};

// Returns false (after printing the offending argument) on a bad or missing flag.
bool ParseEvalFlags(int argc, char** argv, EvalFlags* f) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    long v = 0;
    if (a == "--json") {
      f->json = true;
    } else if (a == "--text" && has_value) {
      f->text_path = argv[++i];
    } else if (a == "--baseline" && has_value) {
      f->baseline_path = argv[++i];
    } else if (a == "--ctx" && has_value && ParseInt(argv[++i], 4, 65536, &v)) {
      f->params.n_ctx = static_cast<int>(v);
    } else if (a == "--chunks" && has_value && ParseInt(argv[++i], 0, 1 << 30, &v)) {
      f->params.max_chunks = static_cast<int>(v);
    } else if (a == "--threads" && has_value && ParseInt(argv[++i], 1, 1024, &v)) {
      f->params.threads = static_cast<int>(v);
    } else {
      std::fprintf(stderr, "eval: bad or incomplete argument '%s'\n", argv[i]);
      return false;
    }
  }
  if (f->text_path.empty()) {
    std::fprintf(stderr, "eval: --text FILE is required\n");
    return false;
  }
  return true;
}

// Loads the model and, when asked for, the baseline; prints the error and returns 1 on failure.
int LoadModels(const char* model_path, const std::string& baseline_path,
               std::unique_ptr<LlamaModel>* model, std::unique_ptr<LlamaModel>* baseline) {
  auto m = LlamaModel::Load(model_path);
  if (!m.ok()) {
    std::fprintf(stderr, "eval: %s\n", m.status().ToString().c_str());
    return 1;
  }
  *model = std::move(*m);
  if (baseline_path.empty()) return 0;
  auto b = LlamaModel::Load(baseline_path);
  if (!b.ok()) {
    std::fprintf(stderr, "eval: %s\n", b.status().ToString().c_str());
    return 1;
  }
  *baseline = std::move(*b);
  return 0;
}

}  // namespace

int RunEval(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: eval MODEL --text FILE [--ctx N] [--chunks N] "
                 "[--baseline BASE] [--threads T] [--json]\n");
    return 2;
  }
  EvalFlags f;
  if (!ParseEvalFlags(argc, argv, &f)) return 2;
  auto path = KernelPathFromEnv();
  if (!path.ok()) {
    std::fprintf(stderr, "eval: %s\n", path.status().ToString().c_str());
    return 2;
  }
  f.params.kernel_path = *path;
  std::ifstream in(f.text_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "eval: cannot read %s\n", f.text_path.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::unique_ptr<LlamaModel> model, baseline;
  if (LoadModels(argv[1], f.baseline_path, &model, &baseline) != 0) return 1;
  auto r = Evaluate(*model, text.str(), f.params, baseline.get());
  if (!r.ok()) {
    std::fprintf(stderr, "eval: %s\n", r.status().ToString().c_str());
    return 1;
  }
  Print(*r, f.json);
  return 0;
}

}  // namespace edgefarm::engine::tools
