#include "edgefarm/common/sha256.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace edgefarm {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileMatchesInMemory) {
  testing::TempDir dir;
  testing::WriteFile(dir / "f", "hello world");
  auto digest = Sha256File(dir / "f");
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Hex("hello world"));
  EXPECT_FALSE(Sha256File(dir / "missing").ok());
}

TEST(Sha256Test, ValidatesHexDigests) {
  EXPECT_TRUE(IsValidSha256Hex(Sha256Hex("x")));
  EXPECT_FALSE(IsValidSha256Hex("../../etc/passwd"));
  EXPECT_FALSE(IsValidSha256Hex(std::string(64, 'G')));
  EXPECT_FALSE(IsValidSha256Hex(std::string(63, 'a')));
}

}  // namespace
}  // namespace edgefarm
