// Flag errors of `edgefarm coordinator` are reported with exit code 2 before anything starts.
#include "edgefarm/coordinator/coordinator_main.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

int RunCommand(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return RunCoordinatorCommand(static_cast<int>(argv.size()), argv.data());
}

TEST(CoordinatorMainTest, RejectsBadFlags) {
  edgefarm::testing::TempDir dir;
  const std::string data = (dir / "data").string();
  EXPECT_EQ(RunCommand({"coordinator"}), 2);  // --data is required
  EXPECT_EQ(RunCommand({"coordinator", "--data"}), 2);
  EXPECT_EQ(RunCommand({"coordinator", "--data", data, "--bogus", "1"}), 2);
  EXPECT_EQ(RunCommand({"coordinator", "--data", data, "--http", "127.0.0.1"}), 2);
  EXPECT_EQ(RunCommand({"coordinator", "--data", data, "--http", "127.0.0.1:99999"}), 2);
  EXPECT_EQ(RunCommand({"coordinator", "--data", data, "--heartbeat-ms", "0"}), 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "data"));  // nothing started
}

TEST(CoordinatorMainTest, FailsCleanlyWhenItCannotBind) {
  edgefarm::testing::TempDir dir;
  EXPECT_EQ(
      RunCommand({"coordinator", "--data", (dir / "data").string(), "--listen", "tcp://nonsense"}),
      1);
}

}  // namespace
}  // namespace edgefarm::coordinator
