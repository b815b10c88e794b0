// ChildProcess adapter over Boost.Process (the only CLI file that includes it). The child is
// detached from Boost's ownership right after the spawn and reaped with waitpid here, so the
// exit status of a signal death is not lost and no destructor kills it behind our back.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <thread>

#include "edgefarm/cli/child_process.h"

namespace edgefarm::cli {

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace {

struct ChildSetup : bp::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor& /*exec*/) const {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
  }
};

int StatusToCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

class BoostChild final : public ChildProcess {
 public:
  explicit BoostChild(pid_t pid) : pid_(pid) {}
  ~BoostChild() override {
    if (!exit_code_) Stop(std::chrono::seconds(5));
  }
  int pid() const override { return pid_; }

  std::optional<int> Poll() override {
    if (exit_code_) return exit_code_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = StatusToCode(status);
    return exit_code_;
  }

  int Stop(std::chrono::milliseconds grace) override {
    if (Poll()) return *exit_code_;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Poll()) return *exit_code_;
      // Waiting for another process to finish its shutdown; nothing to poll(2) on portably.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) exit_code_ = StatusToCode(status);
    return exit_code_.value_or(-1);
  }

 private:
  const pid_t pid_;
  std::optional<int> exit_code_;
};

}  // namespace

fs::path SelfExecutable() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path("edgefarm") : self;
}

Result<std::unique_ptr<ChildProcess>> StartChild(const std::vector<std::string>& argv,
                                                 const fs::path& log_file) {
  if (argv.empty()) return InvalidArgument("empty argv");
  std::error_code ec;
  fs::create_directories(log_file.parent_path(), ec);
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return IoError("cannot open " + log_file.string());
  FILE* log = ::fdopen(log_fd, "a");
  if (log == nullptr) {
    ::close(log_fd);
    return IoError("cannot open " + log_file.string());
  }
  try {
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    bp::child child(bp::exe = argv[0], bp::args = args, (bp::std_in < bp::null),
                    (bp::std_out > log), (bp::std_err > log), ChildSetup{});
    const pid_t pid = child.id();
    ::setpgid(pid, pid);
    child.detach();
    std::fclose(log);
    return std::unique_ptr<ChildProcess>(std::make_unique<BoostChild>(pid));
  } catch (const std::exception& e) {
    std::fclose(log);
    return IoError("cannot start " + argv[0] + ": " + e.what());
  }
}

}  // namespace edgefarm::cli
