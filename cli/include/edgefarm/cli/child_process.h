// A long-running child process of `edgefarm up` (the coordinator, each worker).
//
// Each child runs in its own process group (so a terminal's Ctrl-C reaches only `edgefarm up`,
// which then stops the children in order) with a clean signal mask, its stdout and stderr
// appended to a log file. Stop() sends SIGTERM, waits up to `grace`, then SIGKILLs.
//
// Thread-safety: one owner thread. The destructor stops a child that is still running.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::cli {

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  virtual int pid() const = 0;
  // Exit status once the child has ended (reaps it); nullopt while it runs. A signal death is
  // reported as 128 + signal number, like a shell does.
  virtual std::optional<int> Poll() = 0;
  // SIGTERM, wait up to `grace`, SIGKILL; returns the exit status.
  virtual int Stop(std::chrono::milliseconds grace) = 0;
};

// Starts argv (argv[0] an absolute path) with output appended to log_file.
Result<std::unique_ptr<ChildProcess>> StartChild(const std::vector<std::string>& argv,
                                                 const std::filesystem::path& log_file);

// The running `edgefarm` binary (/proc/self/exe), for starting its own sub-commands.
std::filesystem::path SelfExecutable();

}  // namespace edgefarm::cli
