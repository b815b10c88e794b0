// API and worker credentials.
//
// On first start the coordinator writes DATA/admin.token and DATA/worker.token (32 random bytes as
// hex, mode 0600, written to a temp file and renamed); later starts read them back. Only their
// sha256 is kept in memory and in the store, and a presented token is checked by hashing it and
// comparing in constant time. Tokens never appear in logs or error messages.
//
// Thread-safety: TokenSet is immutable after construction except Add(), which the owner calls
// before sharing it; Check() is safe from many threads.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/records.h"

namespace edgefarm::coordinator {

struct TokenFiles {
  std::string admin_sha256;
  std::string worker_sha256;
};

// Reads or creates DATA/admin.token and DATA/worker.token; returns their hashes.
Result<TokenFiles> EnsureTokenFiles(const std::filesystem::path& data_dir);

class TokenSet {
 public:
  void Add(const std::string& role, const std::string& sha256) { hashes_[role].insert(sha256); }
  // True when token's hash is registered under one of roles.
  bool Check(const std::string& token, const std::vector<std::string>& roles) const;
  bool Has(const std::string& role, const std::string& sha256) const;

 private:
  std::map<std::string, std::set<std::string>> hashes_;
};

}  // namespace edgefarm::coordinator
