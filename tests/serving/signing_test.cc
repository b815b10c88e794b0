#include "edgefarm/serving/signing.h"

#include <gtest/gtest.h>

#include "edgefarm/common/sha256.h"

namespace edgefarm::serving {
namespace {

TEST(SigningTest, SignedDigestVerifiesWithThePublicKey) {
  auto keys = GenerateSigningKey();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->public_key_hex.size(), 64u);
  EXPECT_EQ(keys->secret_key_hex.size(), 128u);
  EXPECT_EQ(*PublicKeyFromSecret(keys->secret_key_hex), keys->public_key_hex);
  const std::string digest = Sha256Hex("model bytes");
  auto sig = SignDigest(keys->secret_key_hex, digest);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->size(), 128u);
  EXPECT_TRUE(VerifyDigest(keys->public_key_hex, digest, *sig).ok());
  // Case of the digest does not matter: it is normalised before signing and verifying.
  std::string upper = digest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(VerifyDigest(keys->public_key_hex, upper, *sig).ok());
}

TEST(SigningTest, OtherDigestOtherKeyOrDamagedSignatureIsRefused) {
  auto keys = GenerateSigningKey();
  auto other = GenerateSigningKey();
  ASSERT_TRUE(keys.ok() && other.ok());
  const std::string digest = Sha256Hex("a");
  const std::string sig = *SignDigest(keys->secret_key_hex, digest);
  EXPECT_EQ(VerifyDigest(keys->public_key_hex, Sha256Hex("b"), sig).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyDigest(other->public_key_hex, digest, sig).code(), StatusCode::kPermissionDenied);
  std::string damaged = sig;
  damaged[10] = damaged[10] == '0' ? '1' : '0';
  EXPECT_EQ(VerifyDigest(keys->public_key_hex, digest, damaged).code(),
            StatusCode::kPermissionDenied);
}

TEST(SigningTest, MalformedInputIsInvalidArgumentWithoutKeyMaterial) {
  auto keys = GenerateSigningKey();
  ASSERT_TRUE(keys.ok());
  const std::string digest = Sha256Hex("a");
  EXPECT_EQ(SignDigest("abcd", digest).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SignDigest(keys->secret_key_hex, "not-a-digest").status().code(),
            StatusCode::kInvalidArgument);
  std::string bad_secret = keys->secret_key_hex;
  bad_secret[0] = 'z';
  auto r = SignDigest(bad_secret, digest);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find(bad_secret.substr(1, 20)), std::string::npos);
  EXPECT_EQ(VerifyDigest("00", digest, std::string(128, '0')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyDigest(keys->public_key_hex, digest, "xyz").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgefarm::serving
