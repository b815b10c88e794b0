// Helpers shared by every test binary.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace edgefarm::testing {

// The source tree (for fixtures under tests/data and examples/) and the build tree (for built
// binaries), from the environment CTest sets; falls back to paths relative to the binary.
std::filesystem::path SourceDir();
std::filesystem::path BinaryDir();
// tests/data/<relative>
std::filesystem::path TestData(const std::string& relative);

// A fresh directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A loopback TCP port that was free a moment ago (bound, read back and closed), for a server a
// test starts, or restarts, on a port it knows.
int FreeLoopbackPort();

// Polls `condition` until it holds or `limit` passes; returns whether it held. The limit is a
// failure bound for a hung system, not a timing assertion: conditions normally hold far sooner.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds limit = std::chrono::seconds(60));

// Starts args[0] (a path) with args, stdout and stderr appended to `log`; 0 when it cannot start.
pid_t SpawnLogged(std::vector<std::string> args, const std::filesystem::path& log);

// A child process started by SpawnLogged; SIGTERMed and reaped on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, const std::filesystem::path& log)
      : pid_(SpawnLogged(std::move(args), log)) {}
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = 0;
};

std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& content);

}  // namespace edgefarm::testing
