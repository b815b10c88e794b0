// edgefarm-engine stage-check JOB.json --out DIR [--threads T] [--fault-error-rate R]
//   [--fault-latency-ms L] [--fault-seed S]
// Runs the staging checks and writes DIR/stage-result.json. Exit 0 when every check passed,
// 1 when a check failed or the checks could not run, 2 for a usage or JOB.json error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/serving/staging_checks.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

bool ParseStageFlags(int argc, char** argv, std::string* out_dir, serving::StageOptions* o) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    double v = 0;
    bool ok = i + 1 < argc;
    if (ok && a == "--out") {
      *out_dir = argv[++i];
    } else if (ok && a == "--threads" && (ok = ParseNumber(argv[++i], 1, 256, &v))) {
      o->http_threads = static_cast<int>(v);
    } else if (ok && a == "--fault-error-rate" && (ok = ParseNumber(argv[++i], 0, 1, &v))) {
      o->fault.error_rate = v;
    } else if (ok && a == "--fault-latency-ms" && (ok = ParseNumber(argv[++i], 0, 600000, &v))) {
      o->fault.latency_ms = static_cast<int>(v);
    } else if (ok && a == "--fault-seed" && (ok = ParseNumber(argv[++i], 0, 1e15, &v))) {
      o->fault.seed = static_cast<uint64_t>(v);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "stage-check: bad or incomplete argument '%s'\n", argv[i]);
      return false;
    }
  }
  return !out_dir->empty();
}

}  // namespace

int RunStageCheck(int argc, char** argv) {
  std::string out_dir;
  serving::StageOptions options;
  if (argc < 2 || !ParseStageFlags(argc, argv, &out_dir, &options)) {
    std::fprintf(stderr,
                 "usage: stage-check JOB.json --out DIR [--threads T] [--fault-error-rate R] "
                 "[--fault-latency-ms L] [--fault-seed S]\n");
    return 2;
  }
  auto log = spdlog::stderr_color_mt("stage");
  auto job = serving::LoadStageJob(argv[1]);
  if (!job.ok()) {
    log->error("{}", job.status().ToString());
    return 2;
  }
  auto report = serving::RunStageChecks(*job, options, log);
  if (!report.ok()) {
    log->error("{}", report.status().ToString());
    return 1;
  }
  if (Status s = serving::WriteStageResult(*report, out_dir); !s.ok()) {
    log->error("{}", s.ToString());
    return 1;
  }
  log->info("stage {}: {}/stage-result.json", report->passed ? "passed" : "FAILED", out_dir);
  return report->passed ? 0 : 1;
}

int RunStageJob(const char* job_path, const std::string& out_dir) {
  auto log = spdlog::get("stage") ? spdlog::get("stage") : spdlog::stderr_color_mt("stage");
  auto job = serving::LoadStageJob(job_path);
  if (!job.ok()) {
    log->error("{}", job.status().ToString());
    return 2;
  }
  auto report = serving::RunStageChecks(*job, serving::StageOptions{}, log);
  if (!report.ok()) {
    log->error("{}", report.status().ToString());
    return 1;
  }
  if (Status s = serving::WriteStageResult(*report, out_dir); !s.ok()) {
    log->error("{}", s.ToString());
    return 1;
  }
  std::error_code ec;
  std::filesystem::copy_file(std::filesystem::path(out_dir) / "stage-result.json",
                             std::filesystem::path(out_dir) / "result.json",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) {
    log->error("cannot write result.json: {}", ec.message());
    return 1;
  }
  log->info("stage {}: {}/stage-result.json", report->passed ? "passed" : "FAILED", out_dir);
  return 0;
}

}  // namespace edgefarm::engine::tools
