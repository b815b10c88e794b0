// Blob transfers over cpp-httplib. Exceptions from httplib (or the callbacks) never escape.
//
// Downloads hash while writing so a multi-gigabyte model is read once; uploads stream from the
// file with a content provider. Error messages name the URL path and status, never the token.
#include <httplib.h>

#include <fstream>
#include <system_error>

#include "edgefarm/worker/blob_client.h"

namespace edgefarm::worker {
namespace {

namespace fs = std::filesystem;

Result<std::unique_ptr<httplib::Client>> MakeClient(const BlobEndpoint& endpoint) {
  auto client = std::make_unique<httplib::Client>(endpoint.base_url);
  if (!client->is_valid()) return InvalidArgument("invalid blob URL '" + endpoint.base_url + "'");
  client->set_connection_timeout(10, 0);
  client->set_read_timeout(300, 0);
  client->set_write_timeout(300, 0);
  return client;
}

httplib::Headers AuthHeaders(const BlobEndpoint& endpoint) {
  return {{"Authorization", "Bearer " + endpoint.token}};
}

Status StatusError(const std::string& what, int status, const std::string& body) {
  const std::string detail = what + ": HTTP " + std::to_string(status);
  if (status == 404) return NotFound(detail);
  if (status == 401 || status == 403) return Unauthenticated(detail);
  if (status == 413) return ResourceExhausted(detail);
  if (status == 400) return DataLoss(detail + " " + body.substr(0, 200));
  return Unavailable(detail);
}

Status HttpError(const std::string& what, const httplib::Result& res) {
  if (!res) return Unavailable(what + ": " + httplib::to_string(res.error()));
  return StatusError(what, res->status, res->body);
}

}  // namespace

Result<BlobInfo> DownloadBlob(const BlobEndpoint& endpoint, const std::string& digest,
                              const fs::path& destination) {
  if (!IsValidSha256Hex(digest)) return InvalidArgument("malformed digest '" + digest + "'");
  EF_ASSIGN_OR_RETURN(auto client, MakeClient(endpoint));
  std::ofstream out(destination, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("cannot write " + destination.string());
  Sha256 hasher;
  BlobInfo info;
  int status = 0;
  const std::string path = "/api/v1/blobs/" + digest;
  try {
    auto res = client->Get(
        path, AuthHeaders(endpoint),
        [&](const httplib::Response& response) {
          status = response.status;
          return response.status == 200;
        },
        [&](const char* data, size_t len) {
          hasher.Update(data, len);
          out.write(data, static_cast<std::streamsize>(len));
          info.size += len;
          return static_cast<bool>(out);
        });
    // A non-200 answer aborts the transfer in the response handler, so `res` carries no response.
    if (status != 0 && status != 200) return StatusError("GET " + path, status, "");
    if (!res) return HttpError("GET " + path, res);
  } catch (const std::exception& e) {
    return Unavailable("GET " + path + ": " + e.what());
  }
  out.close();
  if (!out) return IoError("short write to " + destination.string());
  info.digest = hasher.HexDigest();
  return info;
}

Result<BlobInfo> UploadBlob(const BlobEndpoint& endpoint, const fs::path& file) {
  EF_ASSIGN_OR_RETURN(std::string digest, Sha256File(file));
  std::error_code ec;
  const uint64_t size = fs::file_size(file, ec);
  if (ec) return IoError("cannot stat " + file.string() + ": " + ec.message());
  EF_ASSIGN_OR_RETURN(auto client, MakeClient(endpoint));
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (!*in) return IoError("cannot read " + file.string());
  const std::string path = "/api/v1/blobs/" + digest;
  try {
    auto res = client->Put(
        path, AuthHeaders(endpoint), size,
        [in](size_t offset, size_t length, httplib::DataSink& sink) {
          std::vector<char> buffer(std::min<size_t>(length, 256 * 1024));
          in->seekg(static_cast<std::streamoff>(offset));
          in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
          const auto got = in->gcount();
          if (got <= 0) return false;
          return sink.write(buffer.data(), static_cast<size_t>(got));
        },
        "application/octet-stream");
    if (!res || (res->status != 200 && res->status != 201)) return HttpError("PUT " + path, res);
  } catch (const std::exception& e) {
    return Unavailable("PUT " + path + ": " + e.what());
  }
  return BlobInfo{digest, size};
}

}  // namespace edgefarm::worker
