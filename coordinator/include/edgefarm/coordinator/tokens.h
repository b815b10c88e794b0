// API and worker credentials.
//
// On first start the coordinator writes DATA/admin.token and DATA/worker.token (32 random bytes as
// hex, mode 0600, written to a temp file and renamed); later starts read them back. Only their
// sha256 is kept in memory and in the store, and a presented token is checked by hashing it and
// comparing in constant time. Tokens never appear in logs or error messages.
//
// API tokens made with `edgefarm token create` (POST /api/v1/tokens) carry a role and a name;
// only their hash is stored (DATA/control.db). A token's public id is the first 12 hex digits
// of its hash: enough to name it in the audit log, useless for authenticating.
//
// Thread-safety: every TokenSet method is safe from many threads (an internal mutex).
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/records.h"
#include "edgefarm/coordinator/roles.h"

namespace edgefarm::coordinator {

struct TokenFiles {
  std::string admin_sha256;
  std::string worker_sha256;
};

// Reads or creates DATA/admin.token and DATA/worker.token; returns their hashes.
Result<TokenFiles> EnsureTokenFiles(const std::filesystem::path& data_dir);

// Who presented a token.
struct TokenIdentity {
  Role role = Role::kViewer;
  std::string id;    // first 12 hex digits of the hash
  std::string name;  // "admin.token", "worker.token" or the name given at creation
};

std::string TokenId(const std::string& sha256);
// 32 random bytes as hex (the format of every token the coordinator hands out).
std::string NewTokenSecret();

class TokenSet {
 public:
  // role is a role name (roles.h); unknown names are ignored. name defaults to "<role>.token".
  void Add(const std::string& role, const std::string& sha256, const std::string& name = "");
  // True when token's hash is registered under one of roles.
  bool Check(const std::string& token, const std::vector<std::string>& roles) const;
  bool Has(const std::string& role, const std::string& sha256) const;
  // The identity of a presented token; nullopt for an empty or unknown one. Compares every
  // known hash in constant time.
  std::optional<TokenIdentity> Identify(const std::string& token) const;

 private:
  struct Entry {
    std::string sha256;
    TokenIdentity identity;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace edgefarm::coordinator
