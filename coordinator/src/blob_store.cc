// BlobStore: temp file + incremental sha256 + fsync + rename, so readers never see a partial blob.
// The directory is fsynced after the rename so the new name itself survives a crash.
#include "edgefarm/coordinator/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace edgefarm::coordinator {
namespace fs = std::filesystem;

namespace {

Status Errno(std::string_view what, const fs::path& path) {
  return IoError(std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

Status FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("fsync", dir);
}

}  // namespace

BlobStore::BlobStore(fs::path root, uint64_t max_blob_bytes)
    : root_(std::move(root)), max_blob_bytes_(max_blob_bytes) {}

Status BlobStore::Init() {
  std::error_code ec;
  fs::create_directories(root_ / "tmp", ec);
  if (ec) return IoError("create " + (root_ / "tmp").string() + ": " + ec.message());
  return Status::Ok();
}

fs::path BlobStore::FinalPath(std::string_view digest) const {
  return root_ / std::string(digest.substr(0, 2)) / std::string(digest);
}

Result<std::unique_ptr<BlobStore::Writer>> BlobStore::BeginWrite() const {
  std::random_device rd;
  fs::path temp = root_ / "tmp" / ("upload-" + std::to_string(rd()) + std::to_string(rd()));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create", temp);
  return std::unique_ptr<Writer>(new Writer(this, temp, fd));
}

BlobStore::Writer::Writer(const BlobStore* store, fs::path temp, int fd)
    : store_(store), temp_(std::move(temp)), fd_(fd) {}

BlobStore::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ignored;
    fs::remove(temp_, ignored);
  }
}

Status BlobStore::Writer::Append(std::string_view data) {
  if (size_ + data.size() > store_->max_blob_bytes_) {
    return ResourceExhausted("blob exceeds the limit of " +
                             std::to_string(store_->max_blob_bytes_) + " bytes");
  }
  hash_.Update(data);
  size_ += data.size();
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", temp_);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<uint64_t> BlobStore::Writer::Commit(std::string_view expected_digest) {
  if (!IsValidSha256Hex(expected_digest)) {
    return InvalidArgument("not a sha256 digest (64 lowercase hex characters)");
  }
  std::string actual = hash_.HexDigest();
  if (actual != expected_digest) {
    return InvalidArgument("content sha256 " + actual + " does not match the digest in the URL");
  }
  if (::fsync(fd_) != 0) return Errno("fsync", temp_);
  ::close(fd_);
  fd_ = -1;
  fs::path final_path = store_->FinalPath(expected_digest);
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec) return IoError("create " + final_path.parent_path().string() + ": " + ec.message());
  if (::rename(temp_.c_str(), final_path.c_str()) != 0) return Errno("rename to", final_path);
  committed_ = true;
  EF_RETURN_IF_ERROR(FsyncDir(final_path.parent_path()));
  return size_;
}

Result<uint64_t> BlobStore::Put(std::string_view expected_digest, std::string_view data) const {
  if (!IsValidSha256Hex(expected_digest)) {
    return InvalidArgument("not a sha256 digest (64 lowercase hex characters)");
  }
  EF_ASSIGN_OR_RETURN(auto writer, BeginWrite());
  EF_RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit(expected_digest);
}

bool BlobStore::Contains(std::string_view digest) const {
  return Size(digest).ok();
}

Result<uint64_t> BlobStore::Size(std::string_view digest) const {
  EF_ASSIGN_OR_RETURN(fs::path path, PathOf(digest));
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) return IoError("stat " + path.string() + ": " + ec.message());
  return size;
}

Result<fs::path> BlobStore::PathOf(std::string_view digest) const {
  if (!IsValidSha256Hex(digest)) {
    return InvalidArgument("not a sha256 digest (64 lowercase hex characters)");
  }
  fs::path path = FinalPath(digest);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return NotFound("no blob " + std::string(digest));
  return path;
}

}  // namespace edgefarm::coordinator
