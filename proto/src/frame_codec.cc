#include "edgefarm/proto/frame_codec.h"

namespace edgefarm::proto {

std::string EncodeFrame(v1::Envelope env) {
  env.set_protocol_version(kProtocolVersion);
  return env.SerializeAsString();
}

Result<v1::Envelope> DecodeFrame(std::string_view frame) {
  if (frame.size() > kMaxFrameBytes) {
    return ResourceExhausted("frame of " + std::to_string(frame.size()) + " bytes exceeds limit of " +
                             std::to_string(kMaxFrameBytes));
  }
  v1::Envelope env;
  if (!env.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    return InvalidArgument("frame of " + std::to_string(frame.size()) +
                           " bytes is not a valid Envelope");
  }
  if (env.protocol_version() != kProtocolVersion) {
    return InvalidArgument("unsupported protocol version " +
                           std::to_string(env.protocol_version()) + " (expected " +
                           std::to_string(kProtocolVersion) + ")");
  }
  if (env.body_case() == v1::Envelope::BODY_NOT_SET) {
    return InvalidArgument("envelope has no body");
  }
  return env;
}

std::string_view BodyName(const v1::Envelope& env) {
  switch (env.body_case()) {
    case v1::Envelope::kRegister: return "register";
    case v1::Envelope::kWelcome: return "welcome";
    case v1::Envelope::kHeartbeat: return "heartbeat";
    case v1::Envelope::kHeartbeatAck: return "heartbeat_ack";
    case v1::Envelope::kAssign: return "assign";
    case v1::Envelope::kAccept: return "accept";
    case v1::Envelope::kReject: return "reject";
    case v1::Envelope::kLogChunk: return "log_chunk";
    case v1::Envelope::kResult: return "result";
    case v1::Envelope::kResultAck: return "result_ack";
    case v1::Envelope::kCancel: return "cancel";
    case v1::Envelope::kDrain: return "drain";
    case v1::Envelope::kError: return "error";
    case v1::Envelope::kGoodbye: return "goodbye";
    case v1::Envelope::BODY_NOT_SET: return "empty";
  }
  return "unknown";
}

}  // namespace edgefarm::proto
