// Input cache: verify-before-use on every path out, temp-then-rename on every path in.
//
// A download lands in "<digest>.part-<n>" next to its final name so that a crash mid-transfer
// leaves nothing that looks like a complete entry; rename(2) within one directory is atomic.
#include "edgefarm/worker/input_cache.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "edgefarm/common/sha256.h"

namespace edgefarm::worker {

namespace fs = std::filesystem;

InputCache::InputCache(fs::path dir, std::shared_ptr<spdlog::logger> logger)
    : dir_(std::move(dir)), logger_(std::move(logger)) {}

fs::path InputCache::PathFor(const std::string& digest) const {
  return dir_ / digest.substr(0, 2) / digest;
}

std::mutex& InputCache::LockFor(const std::string& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = digest_locks_[digest];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

int InputCache::downloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return downloads_;
}

int InputCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

Result<fs::path> InputCache::Fetch(const BlobEndpoint& endpoint, const std::string& digest) {
  if (!IsValidSha256Hex(digest)) return InvalidArgument("malformed digest '" + digest + "'");
  std::lock_guard<std::mutex> digest_lock(LockFor(digest));
  const fs::path final_path = PathFor(digest);
  std::error_code ec;
  if (fs::is_regular_file(final_path, ec)) {
    auto actual = Sha256File(final_path);
    if (actual.ok() && *actual == digest) {
      std::lock_guard<std::mutex> lock(mu_);
      ++hits_;
      return final_path;
    }
    if (logger_) logger_->warn("cache entry {} is corrupt; fetching it again", digest);
    fs::remove(final_path, ec);
  }
  fs::create_directories(final_path.parent_path(), ec);
  if (ec)
    return IoError("cannot create " + final_path.parent_path().string() + ": " + ec.message());
  static std::atomic<uint64_t> counter{0};
  const fs::path part = final_path.string() + ".part-" + std::to_string(++counter);
  auto info = DownloadBlob(endpoint, digest, part);
  if (!info.ok()) {
    fs::remove(part, ec);
    return info.status();
  }
  if (info->digest != digest) {
    fs::remove(part, ec);
    return DataLoss("blob " + digest + " arrived with sha256 " + info->digest);
  }
  fs::rename(part, final_path, ec);
  if (ec) return IoError("cannot move " + part.string() + " into place: " + ec.message());
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++downloads_;
  }
  if (logger_) logger_->info("fetched input {} ({} bytes)", digest, info->size);
  return final_path;
}

}  // namespace edgefarm::worker
