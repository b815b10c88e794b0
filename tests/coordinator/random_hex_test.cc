// RandomHex (lease tokens, run ids, API tokens): the per-thread pool of random bytes hands each
// byte out once, and a forked child never hands out the bytes its parent's pool still holds.
#include "random_hex.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

namespace edgefarm::coordinator {
namespace {

TEST(RandomHexTest, HexOfTheRequestedLengthAndNoRepeatsAcrossPoolRefills) {
  std::set<std::string> seen;
  // 16-byte tokens: 1000 of them draw about four 4 KiB refills.
  for (int i = 0; i < 1000; ++i) {
    const std::string token = RandomHex(16);
    ASSERT_EQ(token.size(), 32u);
    EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
    EXPECT_TRUE(seen.insert(token).second) << "repeated token " << token;
  }
  EXPECT_EQ(RandomHex(5000).size(), 10000u);  // longer than one pool
}

TEST(RandomHexTest, AForkedChildDrawsOtherBytesThanItsParent) {
  (void)RandomHex(16);  // the parent's pool now holds unused bytes
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string token = RandomHex(16);
    const ssize_t n = write(fds[1], token.data(), token.size());
    _exit(n == static_cast<ssize_t>(token.size()) ? 0 : 1);
  }
  close(fds[1]);
  const std::string parent_token = RandomHex(16);
  std::string child_token(32, '\0');
  ASSERT_EQ(read(fds[0], child_token.data(), child_token.size()), 32);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parent_token, child_token);
}

}  // namespace
}  // namespace edgefarm::coordinator
