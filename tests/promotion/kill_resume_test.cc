// A process driving a promotion is SIGKILLed during the ramp; a new machine in another process
// resumes it from the ledger file and finishes it. The router and the model servers run in this
// test process (as they run outside the coordinator in production), the promotion in a child.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "edgefarm/serving/inference_server.h"
#include "local_slots.h"
#include "router_admin_slots.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

std::unique_ptr<serving::InferenceServer> Serve(const char* model) {
  auto server = serving::InferenceServer::Load(edgefarm::testing::TestData(model),
                                               serving::DefaultServerOptions(), test::Quiet());
  if (!server.ok() || !(*server)->Start().ok()) return nullptr;
  return std::move(*server);
}

TEST(KillDuringRamp, ANewProcessResumesFromTheLedgerAndFinishes) {
  edgefarm::testing::TempDir dir;
  auto v1 = Serve("models/stories260K.gguf");
  auto v2 = Serve("models/stories260K-ffpad192-f32.gguf");
  ASSERT_TRUE(v1 && v2);
  serving::RouterOptions options = serving::DefaultRouterOptions();
  options.admin_token = "router-admin-token";
  auto router = serving::TrafficRouter::Create(options, test::Quiet());
  ASSERT_TRUE(router.ok());
  ASSERT_TRUE((*router)->Start().ok());

  int out_pipe[2], in_pipe[2];
  ASSERT_EQ(::pipe(out_pipe), 0);
  ASSERT_EQ(::pipe(in_pipe), 0);
  const std::string child =
      (edgefarm::testing::BinaryDir() / "tests" / "promotion" / "promotion_ramp_child").string();
  const std::string port = std::to_string((*router)->port());
  std::vector<std::string> args = {child,          dir.path().string(), port, options.admin_token,
                                   v1->base_url(), v2->base_url()};
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(in_pipe[0], 0);
    ::close(out_pipe[0]);
    ::close(in_pipe[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(child.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(in_pipe[0]);
  FILE* from_child = ::fdopen(out_pipe[0], "r");
  char line[256] = {};
  const bool at_step =
      std::fgets(line, sizeof line, from_child) != nullptr && std::string(line) == "AT_STEP_1\n";
  ASSERT_TRUE(at_step) << "child said: " << line;
  EXPECT_EQ((*router)->candidate_weight(), 50);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  std::fclose(from_child);
  ::close(in_pipe[1]);

  // Killed mid-ramp: the router keeps serving at 50 %, the ledger holds the committed state.
  auto ledger = PromotionLedger::Open(dir.path() / "promotion.db");
  ASSERT_TRUE(ledger.ok());
  auto row = (*ledger)->Promotion("p1");
  ASSERT_TRUE(row.ok() && row->has_value());
  auto stored = PromotionStateFromJson((*row)->state_json);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->phase, PromotionPhase::kRamping);
  EXPECT_EQ(stored->step, 1);
  auto history = (*ledger)->History("production");
  ASSERT_TRUE(history.ok());
  std::string last_state;
  for (const auto& e : *history) {
    if (e.promotion_id == "p1" && e.kind == "state") last_state = e.detail;
  }
  EXPECT_NE(last_state.find("\"phase\":\"ramping\""), std::string::npos) << last_state;
  EXPECT_NE(last_state.find("\"step\":1"), std::string::npos) << last_state;

  test::RouterAdminSlots slots("127.0.0.1", (*router)->port(), options.admin_token,
                               {{"v1", v1->base_url()}, {"v2", v2->base_url()}});
  ManualClock clock;
  PromotionMachine resumed(test::TestConfig(), ledger->get(), &slots, &clock, test::Quiet());
  ASSERT_TRUE(resumed.Resume(*stored).ok());
  for (int i = 0; i < 20 && !IsTerminal(resumed.state().phase); ++i) {
    if (resumed.state().phase == PromotionPhase::kRamping) {
      ASSERT_TRUE(test::SendTraffic((*router)->base_url(), 300).ok());
    }
    clock.Advance(std::chrono::seconds(61));
    ASSERT_TRUE(resumed.Advance().ok());
  }
  EXPECT_EQ(resumed.state().phase, PromotionPhase::kSucceeded) << resumed.state().reason;
  EXPECT_EQ(LiveVersion(resumed.state()), "v2");
  EXPECT_EQ((*router)->live(), serving::Slot::kGreen);
  EXPECT_EQ((*router)->candidate_weight(), 0);
}

}  // namespace
}  // namespace edgefarm::coordinator
