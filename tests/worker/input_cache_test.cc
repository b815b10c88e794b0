#include "edgefarm/worker/input_cache.h"

#include <gtest/gtest.h>

#include "blob_server.h"
#include "test_support.h"

namespace edgefarm::worker {
namespace {

using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::WriteFile;

class InputCacheTest : public ::testing::Test {
 protected:
  TestBlobServer server_{"worker-secret"};
  TempDir dir_;
  InputCache cache_{dir_.path(), nullptr};
  BlobEndpoint endpoint_{server_.url(), "worker-secret"};
};

TEST_F(InputCacheTest, DownloadsVerifiesAndStoresUnderDigestPrefix) {
  const std::string digest = server_.Add("model bytes \x01\x02\x03");
  auto path = cache_.Fetch(endpoint_, digest);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, dir_.path() / digest.substr(0, 2) / digest);
  EXPECT_EQ(ReadFile(*path), "model bytes \x01\x02\x03");
  EXPECT_EQ(cache_.downloads(), 1);
}

TEST_F(InputCacheTest, ReusesAVerifiedCachedFile) {
  const std::string digest = server_.Add("reuse me");
  ASSERT_TRUE(cache_.Fetch(endpoint_, digest).ok());
  const int gets_after_first = server_.gets();
  auto again = cache_.Fetch(endpoint_, digest);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(server_.gets(), gets_after_first);
  EXPECT_EQ(cache_.hits(), 1);
  EXPECT_EQ(cache_.downloads(), 1);
}

TEST_F(InputCacheTest, RejectsABodyThatDoesNotMatchItsDigest) {
  const std::string digest = Sha256Hex("the real content");
  server_.Put(digest, "something else entirely");
  auto path = cache_.Fetch(endpoint_, digest);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(std::filesystem::exists(cache_.PathFor(digest)));
  // Nothing partial is left behind either.
  size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
    files += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(files, 0u);
}

TEST_F(InputCacheTest, ReplacesACorruptedCacheEntry) {
  const std::string digest = server_.Add("pristine");
  auto path = cache_.Fetch(endpoint_, digest);
  ASSERT_TRUE(path.ok());
  WriteFile(*path, "bit rot");
  auto again = cache_.Fetch(endpoint_, digest);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ReadFile(*again), "pristine");
  EXPECT_EQ(cache_.downloads(), 2);
}

TEST_F(InputCacheTest, MissingBlobIsNotFound) {
  auto path = cache_.Fetch(endpoint_, Sha256Hex("never uploaded"));
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kNotFound);
}

TEST_F(InputCacheTest, WrongTokenIsUnauthenticatedAndNotEchoed) {
  const std::string digest = server_.Add("guarded");
  auto path = cache_.Fetch(BlobEndpoint{server_.url(), "wrong-token-value"}, digest);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(path.status().message().find("wrong-token-value"), std::string::npos);
}

TEST_F(InputCacheTest, HostileDigestNeverBecomesAPath) {
  auto path = cache_.Fetch(endpoint_, "../../etc/passwd");
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(InputCacheTest, UnreachableCoordinatorIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto path = cache_.Fetch(BlobEndpoint{"http://127.0.0.1:1", "t"}, Sha256Hex("x"));
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace edgefarm::worker
