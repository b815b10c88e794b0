// HTTP access to the coordinator's content-addressed blob store (GET/PUT /api/v1/blobs/{sha256}).
//
// The only worker code that talks HTTP (cpp-httplib). Bodies are streamed to and from files, so
// model files do not have to fit in memory. The bearer token is sent in the Authorization header
// and never appears in a returned error message.
//
// Thread-safety: stateless; each call opens its own connection.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "edgefarm/common/sha256.h"
#include "edgefarm/common/status.h"

namespace edgefarm::worker {

struct BlobEndpoint {
  std::string base_url;  // "http://127.0.0.1:8080" (the Welcome's blob_url)
  std::string token;     // worker token
};

struct BlobInfo {
  std::string digest;
  uint64_t size = 0;
};

// Downloads blob `digest` into `destination` (created or truncated) and returns the sha256 of
// the bytes received. The caller decides whether that matches. NotFound on 404, Unavailable when
// the coordinator cannot be reached, IoError for local file errors.
Result<BlobInfo> DownloadBlob(const BlobEndpoint& endpoint, const std::string& digest,
                              const std::filesystem::path& destination);

// Uploads a file under its sha256 and returns its digest and size.
Result<BlobInfo> UploadBlob(const BlobEndpoint& endpoint, const std::filesystem::path& file);

}  // namespace edgefarm::worker
