// A bare mirror of a registered repository, on libgit2 (git2_repo.cc is the only file that
// includes <git2.h>).
//
// The coordinator never checks anything out: files are read from a commit's tree by path, and a
// push's changed paths come from a tree-to-tree diff. Credentials are passed per fetch and never
// appear in a Status message (URLs are redacted with RedactUrl before they are reported).
//
// Thread-safety: one GitMirror is used by one thread at a time (the trigger thread). Failure:
// every method returns a Status; NotFound for an unknown commit or a missing file, Unavailable
// for a failed fetch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct GitCredentials {
  // "user:password", or a bare token (sent as user "x-access-token"); empty: anonymous.
  std::string userpass;
};

struct CommitInfo {
  std::string sha;
  std::string author;  // "Name <email>"
  std::string message;
  std::vector<std::string> parents;
};

// url with any "user:password@" removed, for logs and API responses.
std::string RedactUrl(const std::string& url);

// True for a 40-hex-digit object name.
bool IsCommitSha(const std::string& text);

class GitMirror {
 public:
  // Opens dir as a bare repository, creating it (and its "origin" remote) when absent.
  static Result<std::unique_ptr<GitMirror>> Open(const std::filesystem::path& dir,
                                                 const std::string& url);
  ~GitMirror();
  GitMirror(const GitMirror&) = delete;
  GitMirror& operator=(const GitMirror&) = delete;

  // Fetches every branch (+refs/heads/*:refs/heads/*) from the remote.
  Status Fetch(const GitCredentials& credentials);
  // Branch name (without refs/heads/) -> tip commit.
  Result<std::map<std::string, std::string>> Branches();
  Result<CommitInfo> Commit(const std::string& sha);
  // The bytes of path at commit sha; nullopt when no such file. ResourceExhausted past max_bytes.
  Result<std::optional<std::string>> ReadFile(const std::string& sha, const std::string& path,
                                              uint64_t max_bytes);
  // Paths added, changed or deleted between from (empty or all zeros: to's first parent, or
  // the empty tree for a root commit) and to.
  Result<std::vector<std::string>> ChangedPaths(const std::string& from, const std::string& to);

 private:
  struct Impl;
  explicit GitMirror(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefarm::coordinator
