// A real git repository for trigger tests: a bare "origin" in a temp dir and a work tree that
// commits and pushes to it with the git command-line tool (a real child process).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace edgefarm::coordinator {

class GitTestRepo {
 public:
  explicit GitTestRepo(const std::filesystem::path& root)
      : origin_(root / "origin.git"), work_(root / "work") {
    std::filesystem::create_directories(work_);
    Run("git init -q --bare " + Quote(origin_.string()));
    Git("init -q -b main");
    Git("remote add origin " + Quote(origin_.string()));
  }

  const std::filesystem::path& origin() const { return origin_; }

  void Write(const std::string& path, const std::string& content) {
    std::filesystem::create_directories((work_ / path).parent_path());
    std::ofstream(work_ / path, std::ios::binary) << content;
  }

  // Commits everything and returns the new commit id.
  std::string Commit(const std::string& message) {
    Git("add -A");
    Git("-c user.name=Ada -c user.email=ada@example.com commit -q -m " + Quote(message));
    return Output("rev-parse HEAD");
  }
  void Checkout(const std::string& branch) { Git("checkout -q -B " + Quote(branch)); }
  void Push(const std::string& branch) { Git("push -q origin " + Quote(branch)); }

  void Git(const std::string& args) { Run("git -C " + Quote(work_.string()) + " " + args); }
  std::string Output(const std::string& args) {
    std::string out;
    FILE* pipe = ::popen(("git -C " + Quote(work_.string()) + " " + args).c_str(), "r");
    if (pipe == nullptr) return out;
    std::array<char, 256> buffer;
    while (std::fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
    ::pclose(pipe);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

 private:
  static std::string Quote(const std::string& s) { return "'" + s + "'"; }
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
  }

  std::filesystem::path origin_;
  std::filesystem::path work_;
};

}  // namespace edgefarm::coordinator
