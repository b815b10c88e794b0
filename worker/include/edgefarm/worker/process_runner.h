// Running one child process for a job: the role interface and its real adapter.
//
// The child runs in ITS OWN PROCESS GROUP so that a timeout or a cancel reaches everything it
// started: SIGTERM to the group, a grace period, then SIGKILL to the group. When the direct child
// exits, whatever it left behind in its group is killed too, so no stray process outlives its job.
// stdout and stderr are delivered to an OutputSink in the order they are read, in pieces of at
// most kMaxOutputPiece bytes. Resource usage comes from wait4(2) on the child: peak RSS and
// user/system CPU time of the child and the descendants it waited for.
//
// Thread-safety: a ProcessRunner may run several children at once from different threads.
// CancelFlag::Cancel may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::worker {

inline constexpr size_t kMaxOutputPiece = 64 * 1024;

// A one-shot cancellation signal that a blocked runner can poll(2) on (a pipe underneath).
class CancelFlag {
 public:
  CancelFlag();
  ~CancelFlag();
  CancelFlag(const CancelFlag&) = delete;
  CancelFlag& operator=(const CancelFlag&) = delete;

  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Readable once Cancel() was called; -1 if the pipe could not be created (then poll the flag).
  int fd() const { return read_fd_; }

 private:
  std::atomic<bool> cancelled_{false};
  int read_fd_ = -1;
  int write_fd_ = -1;
};

struct ProcessSpec {
  // argv[0] is looked up on PATH when it has no '/'.
  std::vector<std::string> argv;
  // Added to (and overriding) the worker's own environment.
  std::map<std::string, std::string> env;
  std::filesystem::path working_dir;
  // Zero: no limit.
  std::chrono::milliseconds timeout{0};
  // Time between SIGTERM and SIGKILL on timeout or cancel.
  std::chrono::milliseconds kill_grace{5000};
};

struct ProcessOutcome {
  int exit_code = 0;    // valid when term_signal == 0
  int term_signal = 0;  // the signal that ended the child, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;
  uint64_t peak_rss_bytes = 0;
  double user_cpu_seconds = 0;
  double system_cpu_seconds = 0;
  double wall_seconds = 0;
  int pid = 0;  // the child's pid (its process group id too)
};

// Receives output in read order: stream is "stdout" or "stderr".
using OutputSink = std::function<void(std::string_view stream, std::string_view data)>;

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs the child to completion (or timeout/cancel) on the calling thread. Errors only when the
  // child could not be started (executable missing, working dir missing, fork failure); a child
  // that fails or is killed is a successful Run with the outcome saying so.
  virtual Result<ProcessOutcome> Run(const ProcessSpec& spec, const OutputSink& sink,
                                     const CancelFlag* cancel) = 0;
};

// The real adapter (Boost.Process + poll + wait4).
std::unique_ptr<ProcessRunner> MakeProcessRunner();

}  // namespace edgefarm::worker
