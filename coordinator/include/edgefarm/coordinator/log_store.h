// Job logs on disk: DATA/logs/<job_id>/<attempt>.log, appended in order.
//
// A chunk is accepted only at the current end of the file (its offset equals the bytes stored so
// far). A chunk wholly before the end is a retransmission and is ignored; a chunk that starts past
// the end (a gap) or overlaps it partially is refused with InvalidArgument. The byte offset is the
// durable cursor, so ordering survives a coordinator restart; chunk sequence numbers are checked
// as well while the coordinator remembers them.
//
// Thread-safety: all methods lock an internal mutex; Read may run on HTTP threads while the loop
// appends.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

class LogStore {
 public:
  explicit LogStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Returns true when data was appended, false for an ignored duplicate. job_id must be a
  // coordinator-issued id (callers validate the lease first).
  Result<bool> Append(const std::string& job_id, uint32_t attempt, uint64_t sequence,
                      uint64_t offset, std::string_view data);

  // Up to max_bytes from offset; empty when offset is at or past the end or nothing was logged.
  Result<std::string> Read(const std::string& job_id, uint32_t attempt, uint64_t offset,
                           uint64_t max_bytes) const;

  uint64_t Size(const std::string& job_id, uint32_t attempt) const;

 private:
  std::filesystem::path PathOf(const std::string& job_id, uint32_t attempt) const;

  std::filesystem::path root_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, uint32_t>, uint64_t> next_sequence_;
};

}  // namespace edgefarm::coordinator
