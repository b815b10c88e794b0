// The worker's cache of job inputs, keyed by sha256: CACHE/<first two hex digits>/<digest>.
//
// A file is only ever handed out after its content was hashed and matched the digest: on
// download (written to a temporary name, verified, then renamed into place) and again on every
// reuse, so a corrupted cache entry is detected, removed and fetched again rather than fed to an
// engine. Digests are validated before they become file names.
//
// Thread-safety: Fetch may be called from several threads; concurrent fetches of the same digest
// are serialised.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "edgefarm/common/status.h"
#include "edgefarm/worker/blob_client.h"

namespace spdlog {
class logger;
}

namespace edgefarm::worker {

class InputCache {
 public:
  InputCache(std::filesystem::path dir, std::shared_ptr<spdlog::logger> logger);

  // Returns the local path of the verified blob, downloading it when needed. DataLoss when the
  // downloaded bytes do not match the digest (nothing is kept); InvalidArgument for a malformed
  // digest; other codes from DownloadBlob.
  Result<std::filesystem::path> Fetch(const BlobEndpoint& endpoint, const std::string& digest);

  // Where a digest lives (whether or not it is present).
  std::filesystem::path PathFor(const std::string& digest) const;

  // Counters for logs and tests.
  int downloads() const;
  int hits() const;

 private:
  std::mutex& LockFor(const std::string& digest);

  const std::filesystem::path dir_;
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> digest_locks_;
  int downloads_ = 0;
  int hits_ = 0;
};

}  // namespace edgefarm::worker
