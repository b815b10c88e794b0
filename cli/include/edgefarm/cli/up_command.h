// `edgefarm up`: the embedded farm on one machine.
//
//   edgefarm up [--workers N] [--pipeline FILE] [--once] [--data DIR] [--slots N]
//
// Starts `edgefarm coordinator` (ZeroMQ on tcp://127.0.0.1:0, HTTP on 127.0.0.1:0, the native
// target from hardware detection) and N `edgefarm worker` processes as separate child processes,
// waits for DATA/endpoints.json and the workers' registration, submits the pipeline, prints a
// line per job state change and finally the matrix table with gate verdicts. Without --once it
// keeps the farm up until Ctrl-C; with --once it stops the children and exits 0 iff the run
// succeeded. Child logs go to DATA/logs/{coordinator,worker-N}.log.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "edgefarm/common/status.h"

namespace edgefarm::cli {

struct UpFlags {
  int workers = 2;
  int slots = 2;  // a promotion runs three long-running jobs: router, baseline and candidate
  std::filesystem::path pipeline;  // empty: the bundled example
  bool once = false;
  std::filesystem::path data_dir = ".edgefarm-data";
};

Result<UpFlags> ParseUpFlags(int argc, char** argv);

// The bundled example, looked up in the current directory, then in the source tree this binary
// was built from.
std::filesystem::path DefaultPipeline();

int RunUpCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace edgefarm::cli
