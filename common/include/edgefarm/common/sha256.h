// SHA-256 digests for the content-addressed store and artifact verification.
// Digests are written as 64 lowercase hex characters. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "edgefarm/common/status.h"

namespace edgefarm {

// Incremental hasher. Feed with Update(), finish once with HexDigest().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view data);
Result<std::string> Sha256File(const std::filesystem::path& path);

// True for exactly 64 lowercase hex characters; used to reject hostile digests before they
// become file names.
bool IsValidSha256Hex(std::string_view digest);

}  // namespace edgefarm
