// LogStore: the file size is the cursor. Appends are not fsynced one by one (a log is diagnostic,
// and a lost tail is re-sent by nobody); the result that ends an attempt is what is made durable.
#include "edgefarm/coordinator/log_store.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace edgefarm::coordinator {
namespace fs = std::filesystem;

fs::path LogStore::PathOf(const std::string& job_id, uint32_t attempt) const {
  return root_ / job_id / (std::to_string(attempt) + ".log");
}

uint64_t LogStore::Size(const std::string& job_id, uint32_t attempt) const {
  std::error_code ec;
  uint64_t size = fs::file_size(PathOf(job_id, attempt), ec);
  return ec ? 0 : size;
}

Result<bool> LogStore::Append(const std::string& job_id, uint32_t attempt, uint64_t sequence,
                              uint64_t offset, std::string_view data) {
  std::lock_guard lock(mu_);
  const auto key = std::make_pair(job_id, attempt);
  const uint64_t size = Size(job_id, attempt);
  // A chunk wholly inside what is stored is a retransmission after a lost ack.
  if (!data.empty() && offset + data.size() <= size) return false;
  auto seq = next_sequence_.find(key);
  if (seq != next_sequence_.end() && sequence != seq->second) {
    return InvalidArgument("log chunk " + std::to_string(sequence) + " out of order (expected " +
                           std::to_string(seq->second) + ")");
  }
  if (offset != size) {
    return InvalidArgument("log chunk at offset " + std::to_string(offset) +
                           " does not continue the log at " + std::to_string(size));
  }
  if (data.empty()) {
    next_sequence_[key] = sequence + 1;
    return false;
  }
  fs::path path = PathOf(job_id, attempt);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return IoError("create " + path.parent_path().string() + ": " + ec.message());
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  if (!out) return IoError("append to " + path.string() + ": " + std::strerror(errno));
  next_sequence_[key] = sequence + 1;
  return true;
}

Result<std::string> LogStore::Read(const std::string& job_id, uint32_t attempt, uint64_t offset,
                                   uint64_t max_bytes) const {
  std::lock_guard lock(mu_);
  const uint64_t size = Size(job_id, attempt);
  if (offset >= size) return std::string();
  std::ifstream in(PathOf(job_id, attempt), std::ios::binary);
  if (!in) return IoError("cannot open log of " + job_id);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string out(static_cast<size_t>(std::min(max_bytes, size - offset)), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

}  // namespace edgefarm::coordinator
