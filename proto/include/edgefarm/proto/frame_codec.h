// Encoding and defensive decoding of wire frames (one serialized edgefarm.v1.Envelope each).
//
// Decode never throws and never trusts its input: a frame that is too large, does not parse,
// carries an unknown protocol version or has no body yields an error Status, which the caller
// counts, logs and drops. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "edgefarm/common/status.h"
#include "edgefarm/v1/farm.pb.h"

namespace edgefarm::proto {

inline constexpr uint32_t kProtocolVersion = 1;
// Upper bound for one frame. Log chunks are at most 64 KiB and results a few KiB; anything much
// larger is hostile or a bug.
inline constexpr size_t kMaxFrameBytes = 4 * 1024 * 1024;

// Serializes env after stamping the protocol version.
std::string EncodeFrame(v1::Envelope env);

Result<v1::Envelope> DecodeFrame(std::string_view frame);

// "register", "heartbeat", ... for logs and counters; "empty" when no body is set.
std::string_view BodyName(const v1::Envelope& env);

}  // namespace edgefarm::proto
