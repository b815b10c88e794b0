// The process-runner adapter: Boost.Process spawns, poll(2) multiplexes, wait4(2) measures.
//
// Boost.Process starts the child (exe lookup, environment, working directory, exec-failure
// reporting) with an extension handler that, in the child before exec, makes it the leader of a
// new process group and restores default signal handling (the worker may block or ignore
// signals; a child must not inherit that). From then on the child is handled with plain POSIX:
// Boost's own wait would discard the rusage, and wait4 gives peak RSS and CPU time for the child
// itself. A pidfd (Linux >= 5.3) wakes poll when the child exits, so nothing here spins; without
// one the loop falls back to a short poll interval.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

#include "edgefarm/worker/process_runner.h"

namespace edgefarm::worker {
namespace {

namespace bp = boost::process;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

// Runs in the forked child just before exec.
struct ChildSetup : bp::extend::handler {
  pid_t parent = ::getpid();  // taken in the worker, before the fork

  template <typename Executor>
  void on_exec_setup(Executor& /*exec*/) const {
    ::setpgid(0, 0);
    // If the worker is SIGKILLed its job must not run on unowned: the kernel kills the direct
    // child when the forking thread dies (grandchildren in the group are not covered; see
    // docs/scheduling.md). Checking the parent after the prctl closes the race with an early death.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
  }
};

struct ChildPipes {
  int out_read = -1;
  int err_read = -1;
};

Result<fs::path> ResolveExecutable(const ProcessSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument("empty argv");
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) {
    fs::path p(name);
    if (p.is_relative()) p = spec.working_dir / p;
    if (::access(p.c_str(), X_OK) != 0) return NotFound("not an executable file: " + p.string());
    return p;
  }
  fs::path found = bp::search_path(name).string();
  if (found.empty()) return NotFound("'" + name + "' not found on PATH");
  return found;
}

// Spawns the child; on success `pipes` holds the parent's (non-blocking) read ends.
Result<pid_t> Spawn(const ProcessSpec& spec, ChildPipes& pipes) {
  EF_ASSIGN_OR_RETURN(fs::path exe, ResolveExecutable(spec));
  std::error_code ec;
  if (!fs::is_directory(spec.working_dir, ec)) {
    return NotFound("working directory missing: " + spec.working_dir.string());
  }
  int out_fds[2], err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) return IoError(std::string("pipe: ") + strerror(errno));
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    ::close(out_fds[0]);
    ::close(out_fds[1]);
    return IoError(std::string("pipe: ") + strerror(errno));
  }
  // The bp::pipe objects own all four ends; the child handler takes and closes the write ends.
  bp::pipe out_pipe(out_fds[0], out_fds[1]);
  bp::pipe err_pipe(err_fds[0], err_fds[1]);
  try {
    bp::environment env = boost::this_process::environment();
    for (const auto& [k, v] : spec.env) env[k] = v;
    std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
    bp::child child(bp::exe = exe.string(), bp::args = args,
                    bp::start_dir = spec.working_dir.string(), env, (bp::std_in < bp::null),
                    (bp::std_out > out_pipe), (bp::std_err > err_pipe), ChildSetup{});
    const pid_t pid = child.id();
    // Also set the group from the parent: whichever side runs first, the group exists before we
    // might signal it.
    ::setpgid(pid, pid);
    child.detach();
    pipes.out_read = ::dup(out_pipe.native_source());
    pipes.err_read = ::dup(err_pipe.native_source());
    for (int fd : {pipes.out_read, pipes.err_read}) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return pid;
  } catch (const std::exception& e) {
    return IoError("cannot start '" + spec.argv[0] + "': " + e.what());
  }
}

int OpenPidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -1 : static_cast<int>(fd);
#else
  (void)pid;
  return -1;
#endif
}

double Seconds(const timeval& tv) {
  return tv.tv_sec + tv.tv_usec / 1e6;
}

// Watches one running child: pumps its output, applies deadline/cancel, reaps it.
class ChildWatch {
 public:
  ChildWatch(pid_t pid, ChildPipes pipes, const ProcessSpec& spec, const OutputSink& sink,
             const CancelFlag* cancel)
      : pid_(pid),
        out_(pipes.out_read),
        err_(pipes.err_read),
        spec_(spec),
        sink_(sink),
        cancel_fd_(cancel ? cancel->fd() : -1),
        cancel_(cancel),
        pidfd_(OpenPidFd(pid)),
        start_(Steady::now()) {
    outcome_.pid = pid;
  }
  ~ChildWatch() {
    for (int fd : {out_, err_, pidfd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  ProcessOutcome Run() {
    while (true) {
      PollOnce();
      const auto now = Steady::now();
      CheckCancelAndDeadline(now);
      if (!reaped_) TryReap(now);
      if (reaped_ && out_ < 0 && err_ < 0) break;
      // A process that escaped the group (setsid) may hold the pipes; stop waiting for it.
      if (reaped_ && now >= drain_deadline_) break;
    }
    return outcome_;
  }

 private:
  void PollOnce() {
    std::array<pollfd, 4> fds{};
    nfds_t n = 0;
    auto add = [&](int fd) {
      if (fd >= 0) fds[n++] = pollfd{fd, POLLIN, 0};
    };
    add(out_);
    add(err_);
    if (!reaped_) add(pidfd_);
    if (!term_sent_) add(cancel_fd_);
    ::poll(fds.data(), n, PollTimeoutMs());
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == out_)
        ReadFrom(out_, "stdout");
      else if (fds[i].fd == err_)
        ReadFrom(err_, "stderr");
    }
  }

  int PollTimeoutMs() const {
    const auto now = Steady::now();
    std::optional<Steady::time_point> next;
    auto consider = [&](Steady::time_point t) { next = next ? std::min(*next, t) : t; };
    if (reaped_)
      consider(drain_deadline_);
    else if (term_sent_ && !kill_sent_)
      consider(term_sent_at_ + spec_.kill_grace);
    else if (!term_sent_ && spec_.timeout.count() > 0)
      consider(start_ + spec_.timeout);
    int ms = 1000;
    if (next) {
      ms = static_cast<int>(
          std::chrono::ceil<std::chrono::milliseconds>(std::max(*next - now, Steady::duration(0)))
              .count());
    }
    // Without a pidfd (or a cancel pipe) exit and cancel are noticed by polling.
    if (!reaped_ && (pidfd_ < 0 || (cancel_ && cancel_fd_ < 0))) ms = std::min(ms, 20);
    return std::min(ms, 1000);
  }

  void ReadFrom(int& fd, const char* stream) {
    std::array<char, kMaxOutputPiece> buffer;
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      if (sink_) sink_(stream, std::string_view(buffer.data(), static_cast<size_t>(n)));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      ::close(fd);
      fd = -1;
    }
  }

  void CheckCancelAndDeadline(Steady::time_point now) {
    if (reaped_) return;
    if (!term_sent_ && cancel_ && cancel_->cancelled()) {
      outcome_.cancelled = true;
      SendTerm(now);
    } else if (!term_sent_ && spec_.timeout.count() > 0 && now >= start_ + spec_.timeout) {
      outcome_.timed_out = true;
      SendTerm(now);
    } else if (term_sent_ && !kill_sent_ && now >= term_sent_at_ + spec_.kill_grace) {
      ::kill(-pid_, SIGKILL);
      kill_sent_ = true;
    }
  }

  void SendTerm(Steady::time_point now) {
    ::kill(-pid_, SIGTERM);
    term_sent_ = true;
    term_sent_at_ = now;
  }

  void TryReap(Steady::time_point now) {
    int status = 0;
    rusage usage{};
    const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
    if (r != pid_) return;
    reaped_ = true;
    // Whatever the child left running in its group goes with it.
    ::kill(-pid_, SIGKILL);
    drain_deadline_ = now + std::chrono::seconds(2);
    if (WIFEXITED(status)) outcome_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome_.term_signal = WTERMSIG(status);
    outcome_.peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024ULL;
    outcome_.user_cpu_seconds = Seconds(usage.ru_utime);
    outcome_.system_cpu_seconds = Seconds(usage.ru_stime);
    outcome_.wall_seconds = std::chrono::duration<double>(now - start_).count();
  }

  const pid_t pid_;
  int out_;
  int err_;
  const ProcessSpec& spec_;
  const OutputSink& sink_;
  const int cancel_fd_;
  const CancelFlag* cancel_;
  int pidfd_;
  const Steady::time_point start_;
  bool reaped_ = false;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  Steady::time_point term_sent_at_;
  Steady::time_point drain_deadline_;
  ProcessOutcome outcome_;
};

class BoostProcessRunner final : public ProcessRunner {
 public:
  Result<ProcessOutcome> Run(const ProcessSpec& spec, const OutputSink& sink,
                             const CancelFlag* cancel) override {
    ChildPipes pipes;
    EF_ASSIGN_OR_RETURN(pid_t pid, Spawn(spec, pipes));
    ChildWatch watch(pid, pipes, spec, sink, cancel);
    return watch.Run();
  }
};

}  // namespace

CancelFlag::CancelFlag() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
}

CancelFlag::~CancelFlag() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
}

void CancelFlag::Cancel() {
  if (cancelled_.exchange(true)) return;
  if (write_fd_ >= 0) {
    const char byte = 1;
    [[maybe_unused]] ssize_t ignored = ::write(write_fd_, &byte, 1);
  }
}

std::unique_ptr<ProcessRunner> MakeProcessRunner() {
  return std::make_unique<BoostProcessRunner>();
}

}  // namespace edgefarm::worker
