#include <gtest/gtest.h>

#include <cstdlib>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/cli/client_commands.h"
#include "edgefarm/cli/up_command.h"
#include "test_support.h"

namespace edgefarm::cli {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::WriteFile;

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return argv;
}

// Keeps the environment the resolver reads under the test's control.
class EnvGuard {
 public:
  EnvGuard() {
    ::unsetenv("EDGEFARM_SERVER");
    ::unsetenv("EDGEFARM_TOKEN");
  }
  ~EnvGuard() {
    ::unsetenv("EDGEFARM_SERVER");
    ::unsetenv("EDGEFARM_TOKEN");
  }
};

TEST(UpFlagsTest, DefaultsAndValues) {
  std::vector<std::string> args = {"up"};
  auto argv = Argv(args);
  auto flags = ParseUpFlags(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->workers, 2);
  EXPECT_EQ(flags->slots, 2);  // router + baseline + candidate servers fit beside the matrix
  EXPECT_FALSE(flags->once);
  EXPECT_EQ(flags->pipeline.filename(), ".edgefarm.yml");

  args = {"up", "--workers", "3", "--once", "--data", "/tmp/d", "--pipeline", "p.yml"};
  argv = Argv(args);
  flags = ParseUpFlags(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->workers, 3);
  EXPECT_TRUE(flags->once);
  EXPECT_EQ(flags->data_dir, "/tmp/d");
  EXPECT_EQ(flags->pipeline, "p.yml");
}

TEST(UpFlagsTest, RejectsBadValues) {
  for (std::vector<std::string> args : {std::vector<std::string>{"up", "--workers", "0"},
                                        {"up", "--workers", "two"},
                                        {"up", "--bogus", "1"},
                                        {"up", "--pipeline"}}) {
    auto argv = Argv(args);
    EXPECT_FALSE(ParseUpFlags(static_cast<int>(argv.size()), argv.data()).ok()) << args[1];
  }
}

TEST(ResolveServerTest, DataDirSuppliesEndpointAndAdminToken) {
  EnvGuard env;
  TempDir dir;
  WriteFile(dir / "endpoints.json",
            R"({"zmq":"tcp://127.0.0.1:5000","http":"http://127.0.0.1:8000"})");
  WriteFile(dir / "admin.token", "admintoken\n");
  auto config = ResolveServer(ServerFlags{"", "", dir.path()});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->url, "http://127.0.0.1:8000");
  EXPECT_EQ(config->token, "admintoken");
}

TEST(ResolveServerTest, FlagsAndEnvironmentTakePrecedence) {
  EnvGuard env;
  TempDir dir;
  WriteFile(dir / "tok", "from-file\n");
  ::setenv("EDGEFARM_SERVER", "http://env:1", 1);
  auto config = ResolveServer(ServerFlags{"", dir / "tok", ""});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->url, "http://env:1");
  EXPECT_EQ(config->token, "from-file");
  ::setenv("EDGEFARM_TOKEN", "from-env", 1);
  config = ResolveServer(ServerFlags{"http://flag:2", dir / "tok", ""});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->url, "http://flag:2");
  EXPECT_EQ(config->token, "from-env");
}

TEST(ResolveServerTest, MissingServerOrTokenIsAUsageError) {
  EnvGuard env;
  EXPECT_EQ(ResolveServer(ServerFlags{}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveServer(ServerFlags{"http://x:1", "", ""}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ClientCommandTest, UnreachableServerExitsWithThree) {
  EnvGuard env;
  ::setenv("EDGEFARM_TOKEN", "t", 1);
  std::vector<std::string> args = {"workers", "--server", "http://127.0.0.1:1"};
  auto argv = Argv(args);
  std::ostringstream out, err;
  EXPECT_EQ(RunClientCommand(static_cast<int>(argv.size()), argv.data(), out, err), 3);
  EXPECT_NE(err.str().find("GET /api/v1/workers"), std::string::npos) << err.str();
  EXPECT_EQ(err.str().find("Bearer"), std::string::npos);
}

TEST(ClientCommandTest, InvalidPipelineIsRejectedLocallyWithLocation) {
  EnvGuard env;
  ::setenv("EDGEFARM_TOKEN", "t", 1);
  TempDir dir;
  WriteFile(dir / "bad.yml", "name: x\nmatirx:\n  framework: [llama_cpp]\n");
  std::vector<std::string> args = {"run", (dir / "bad.yml").string(), "--server",
                                   "http://127.0.0.1:1"};
  auto argv = Argv(args);
  std::ostringstream out, err;
  EXPECT_EQ(RunClientCommand(static_cast<int>(argv.size()), argv.data(), out, err), 2);
  EXPECT_NE(err.str().find("bad.yml:2:1"), std::string::npos) << err.str();
}

TEST(ClientCommandTest, UnknownFlagIsAUsageError) {
  std::vector<std::string> args = {"status", "--frobnicate"};
  auto argv = Argv(args);
  std::ostringstream out, err;
  EXPECT_EQ(RunClientCommand(static_cast<int>(argv.size()), argv.data(), out, err), 2);
}

}  // namespace
}  // namespace edgefarm::cli
