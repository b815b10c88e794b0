// Helpers shared by every test binary.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

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

// Polls `condition` until it holds or `limit` passes; returns whether it held. The limit is a
// failure bound for a hung system, not a timing assertion: conditions normally hold far sooner.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds limit = std::chrono::seconds(60));

std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& content);

}  // namespace edgefarm::testing
