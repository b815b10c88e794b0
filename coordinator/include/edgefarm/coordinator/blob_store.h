// Content-addressed blob store on the local file system: DATA/blobs/<ab>/<sha256>.
//
// A blob is written to a temporary file under DATA/blobs/tmp, hashed while it is written, checked
// against the digest the caller claims, fsynced and then renamed into place, so a blob file that
// exists is always complete and correct. Digests are validated with IsValidSha256Hex before they
// become paths, which rejects traversal ("../..") and anything else that is not 64 lowercase hex.
//
// Thread-safety: all methods may be called concurrently (each write has its own temp file; the
// final rename is atomic and idempotent for equal content).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "edgefarm/common/sha256.h"
#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

class BlobStore {
 public:
  // An upload in progress. Destroying it without Commit() discards the temp file.
  class Writer {
   public:
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    // Appends data; ResourceExhausted once more than the store's max_blob_bytes arrive.
    Status Append(std::string_view data);
    // Verifies the content hashes to expected_digest (InvalidArgument otherwise), fsyncs and
    // moves it into place. Returns the size.
    Result<uint64_t> Commit(std::string_view expected_digest);

   private:
    friend class BlobStore;
    Writer(const BlobStore* store, std::filesystem::path temp, int fd);
    const BlobStore* store_;
    std::filesystem::path temp_;
    int fd_;
    uint64_t size_ = 0;
    Sha256 hash_;
    bool committed_ = false;
  };

  BlobStore(std::filesystem::path root, uint64_t max_blob_bytes);

  // Creates the directories. Call once before use.
  Status Init();

  Result<std::unique_ptr<Writer>> BeginWrite() const;
  // Convenience: a whole blob in one call.
  Result<uint64_t> Put(std::string_view expected_digest, std::string_view data) const;

  bool Contains(std::string_view digest) const;
  // Size of a stored blob; NotFound if absent, InvalidArgument for a malformed digest.
  Result<uint64_t> Size(std::string_view digest) const;
  // The path of a stored blob (for streaming it out); errors as Size().
  Result<std::filesystem::path> PathOf(std::string_view digest) const;

  uint64_t max_blob_bytes() const { return max_blob_bytes_; }

 private:
  std::filesystem::path FinalPath(std::string_view digest) const;

  std::filesystem::path root_;
  uint64_t max_blob_bytes_;
};

}  // namespace edgefarm::coordinator
