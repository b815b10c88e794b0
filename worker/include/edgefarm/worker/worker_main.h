// `edgefarm worker`: flag parsing and wiring of a real worker process.
//
//   edgefarm worker --coordinator tcp://HOST:PORT [--label k=v]... [--slots N] [--name NAME]
//                   [--cache DIR] [--token-file F] [--engine PATH] [--exit-when-drained]
//                   [--print-tags]
//
// The worker token comes from --token-file, else $EDGEFARM_WORKER_TOKEN. SIGTERM or SIGINT stops
// the worker gracefully: it takes no more jobs, stops the running ones (SIGTERM to their process
// groups, grace, SIGKILL) and reports them as infrastructure errors so they run again elsewhere,
// waits (up to 5 s) until the coordinator acknowledged those results, then says Goodbye. With
// --exit-when-drained a worker the coordinator drained exits 0 on its own once its last job
// finished and its result was acknowledged. Exit codes:
// 0 clean stop, 2 bad usage, 1 start-up failure.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::worker {

struct WorkerFlags {
  std::string coordinator;
  std::vector<std::string> labels;
  unsigned slots = 1;
  std::string name;
  std::filesystem::path cache_dir;
  std::filesystem::path token_file;
  std::filesystem::path engine;
  bool print_tags = false;
  bool exit_when_drained = false;
};

// Parses argv after the "worker" verb (argv[0] is "worker" or the program name).
Result<WorkerFlags> ParseWorkerFlags(int argc, char** argv);

// Where `edgefarm-engine` is looked for when --engine is not given: next to the running binary's
// build dir (<dir of exe>/../engine/edgefarm-engine), else the bare name for a PATH lookup.
std::filesystem::path DefaultEnginePath();

int RunWorkerCommand(int argc, char** argv);

}  // namespace edgefarm::worker
