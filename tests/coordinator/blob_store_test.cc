// BlobStore and LogStore on real directories.
#include "edgefarm/coordinator/blob_store.h"

#include <gtest/gtest.h>

#include "edgefarm/coordinator/log_store.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

namespace fs = std::filesystem;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_.Init().ok()); }
  size_t TempFiles() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_ / "blobs" / "tmp"), fs::directory_iterator()));
  }
  edgefarm::testing::TempDir dir_;
  BlobStore store_{dir_ / "blobs", 1024};
};

TEST_F(BlobStoreTest, StoresUnderItsDigest) {
  const std::string data = "model bytes";
  const std::string digest = Sha256Hex(data);
  auto size = store_.Put(digest, data);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, data.size());
  EXPECT_TRUE(store_.Contains(digest));
  auto path = store_.PathOf(digest);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, dir_ / "blobs" / digest.substr(0, 2) / digest);
  EXPECT_EQ(edgefarm::testing::ReadFile(*path), data);
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(BlobStoreTest, RejectsContentThatDoesNotMatchTheDigest) {
  const std::string digest = Sha256Hex("what was promised");
  auto size = store_.Put(digest, "something else");
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_.Contains(digest));
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(BlobStoreTest, RejectsDigestsThatCouldEscapeTheStore) {
  for (const std::string& bad :
       {std::string("../../etc/passwd"), std::string("..%2f..%2f"), std::string(64, 'A'),
        std::string(63, 'a'), "ab/" + std::string(61, 'a'), std::string()}) {
    EXPECT_EQ(store_.Put(bad, "x").status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store_.PathOf(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(store_.Contains(bad));
  }
}

TEST_F(BlobStoreTest, EnforcesTheSizeLimitWhileStreaming) {
  auto writer = store_.BeginWrite();
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE((*writer)->Append(std::string(1000, 'x')).ok());
  EXPECT_EQ((*writer)->Append(std::string(100, 'x')).code(), StatusCode::kResourceExhausted);
  writer->reset();  // abandoned upload leaves nothing behind
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(BlobStoreTest, UnknownDigestIsNotFound) {
  EXPECT_EQ(store_.Size(Sha256Hex("absent")).status().code(), StatusCode::kNotFound);
}

TEST(LogStoreTest, AppendsInOrderIgnoresDuplicatesAndRefusesGaps) {
  edgefarm::testing::TempDir dir;
  LogStore logs(dir / "logs");
  EXPECT_TRUE(logs.Append("job", 1, 0, 0, "abc").value());
  EXPECT_TRUE(logs.Append("job", 1, 1, 3, "def").value());
  EXPECT_FALSE(logs.Append("job", 1, 1, 3, "def").value());  // retransmission
  EXPECT_EQ(logs.Append("job", 1, 2, 10, "gap").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(logs.Append("job", 1, 5, 6, "seq").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(logs.Append("job", 1, 2, 6, "ghi").value());
  EXPECT_EQ(logs.Read("job", 1, 0, 100).value(), "abcdefghi");
  EXPECT_EQ(logs.Read("job", 1, 4, 2).value(), "ef");
  EXPECT_EQ(logs.Size("job", 1), 9u);
  EXPECT_EQ(logs.Read("job", 2, 0, 100).value(), "");
  // The file is the cursor: a new LogStore (after a restart) continues at the end.
  LogStore reopened(dir / "logs");
  EXPECT_EQ(reopened.Append("job", 1, 0, 0, "abc").value(), false);
  EXPECT_TRUE(reopened.Append("job", 1, 3, 9, "jkl").value());
}

}  // namespace
}  // namespace edgefarm::coordinator
