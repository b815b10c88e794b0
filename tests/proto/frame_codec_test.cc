// The frame codec refuses everything that is not one well-formed v1 Envelope.
#include "edgefarm/proto/frame_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace edgefarm::proto {
namespace {

TEST(FrameCodecTest, RoundTripsAnEnvelope) {
  v1::Envelope env;
  env.mutable_register_()->set_worker_id("w1");
  env.mutable_register_()->set_slots(2);
  auto decoded = DecodeFrame(EncodeFrame(env));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->protocol_version(), kProtocolVersion);
  EXPECT_EQ(decoded->register_().worker_id(), "w1");
  EXPECT_EQ(BodyName(*decoded), "register");
}

TEST(FrameCodecTest, RejectsGarbage) {
  std::mt19937 rng(42);
  int rejected = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string frame(static_cast<size_t>(rng() % 64), '\0');
    for (auto& c : frame) c = static_cast<char>(rng());
    auto decoded = DecodeFrame(frame);
    if (!decoded.ok()) ++rejected;
    // Whatever parses by chance must still be a versioned envelope with a body.
    if (decoded.ok()) {
      EXPECT_EQ(decoded->protocol_version(), kProtocolVersion);
      EXPECT_NE(decoded->body_case(), v1::Envelope::BODY_NOT_SET);
    }
  }
  EXPECT_GT(rejected, 990);
  EXPECT_FALSE(DecodeFrame("\xff\xff\xff\xff\xff\xff").ok());
}

TEST(FrameCodecTest, RejectsWrongProtocolVersion) {
  v1::Envelope env;
  env.mutable_heartbeat();
  env.set_protocol_version(2);
  auto decoded = DecodeFrame(env.SerializeAsString());
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("version"), std::string::npos);
  env.set_protocol_version(0);
  EXPECT_FALSE(DecodeFrame(env.SerializeAsString()).ok());
}

TEST(FrameCodecTest, RejectsOversizeFrames) {
  v1::Envelope env;
  env.mutable_log_chunk()->set_data(std::string(kMaxFrameBytes + 1, 'x'));
  auto decoded = DecodeFrame(EncodeFrame(env));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kResourceExhausted);
}

TEST(FrameCodecTest, RejectsAnEnvelopeWithoutBody) {
  v1::Envelope env;
  auto decoded = DecodeFrame(EncodeFrame(env));
  ASSERT_FALSE(decoded.ok());
  EXPECT_FALSE(DecodeFrame("").ok());
}

}  // namespace
}  // namespace edgefarm::proto
