// edgefarm-engine run JOB.json --out DIR [--no-energy]
// Progress goes to stdout line by line (the worker streams it as the job's log); errors to stderr.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/engine/cell_job.h"
#include "edgefarm/engine/model.h"

namespace edgefarm::engine::tools {

int RunCellJob(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: run JOB.json --out DIR [--no-energy]\n");
    return 2;
  }
  CellJobOptions options;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      options.out_dir = argv[++i];
    } else if (a == "--no-energy") {
      options.measure_energy = false;
    } else {
      std::fprintf(stderr, "run: bad or incomplete argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (options.out_dir.empty()) {
    std::fprintf(stderr, "run: --out DIR is required\n");
    return 2;
  }
  auto path = KernelPathFromEnv();
  if (!path.ok()) {
    std::fprintf(stderr, "run: %s\n", path.status().ToString().c_str());
    return 2;
  }
  options.kernel_path = *path;
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "run: cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  // A stage job (the coordinator's promotion service submits these as engine jobs, so the worker
  // returns its report like a cell's result record).
  if (text.str().find("\"edgefarm.stage/v1\"") != std::string::npos) {
    return RunStageJob(argv[1], options.out_dir.string());
  }
  auto job = ParseCellJob(text.str());
  if (!job.ok()) {
    std::fprintf(stderr, "run: %s: %s\n", argv[1], job.status().ToString().c_str());
    return 1;
  }
  options.progress = [](std::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  auto result = engine::RunCellJob(*job, options);
  if (!result.ok()) {
    std::fprintf(stderr, "run: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::printf("wrote %s\n", (options.out_dir / "result.json").c_str());
  return 0;
}

}  // namespace edgefarm::engine::tools
