// Child process for the kill-during-ramp test: drives promotions over a router it does not own
// (admin API) until the second promotion is at ramp step 1, says so on stdout, then waits to be
// killed. Usage: promotion_ramp_child LEDGER_DIR ROUTER_PORT TOKEN V1_URL V2_URL
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "local_slots.h"
#include "router_admin_slots.h"

using namespace edgefarm;
using namespace edgefarm::coordinator;

namespace {

int Fail(const std::string& why) {
  std::fprintf(stderr, "ramp child: %s\n", why.c_str());
  return 1;
}

Status Drive(PromotionMachine& m, ManualClock& clock, const std::string& router_url,
             bool (*stop)(const PromotionState&)) {
  for (int i = 0; i < 30 && !stop(m.state()); ++i) {
    if (m.state().phase == PromotionPhase::kRamping) {
      EF_RETURN_IF_ERROR(test::SendTraffic(router_url, 300));
    }
    clock.Advance(std::chrono::seconds(61));
    EF_RETURN_IF_ERROR(m.Advance());
  }
  return stop(m.state()) ? Status::Ok() : Internal("did not reach the wanted state");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) return Fail("usage: LEDGER_DIR ROUTER_PORT TOKEN V1_URL V2_URL");
  const std::string router_url = std::string("http://127.0.0.1:") + argv[2];
  auto ledger = PromotionLedger::Open(std::filesystem::path(argv[1]) / "promotion.db");
  if (!ledger.ok()) return Fail(ledger.status().ToString());
  test::RouterAdminSlots slots("127.0.0.1", std::atoi(argv[2]), argv[3],
                               {{"v1", argv[4]}, {"v2", argv[5]}});
  ManualClock clock;
  auto config = test::TestConfig();
  PromotionState first;
  first.id = "p0";
  first.environment = "production";
  first.candidate_version = "v1";
  first.stable_slot = "green";
  PromotionMachine m0(config, ledger->get(), &slots, &clock, test::Quiet());
  if (Status s = m0.Begin(first); !s.ok()) return Fail(s.ToString());
  Status s =
      Drive(m0, clock, router_url, [](const PromotionState& st) { return IsTerminal(st.phase); });
  if (!s.ok() || m0.state().phase != PromotionPhase::kSucceeded) return Fail("v1 not deployed");
  if (Status t = test::SendTraffic(router_url, 100); !t.ok()) return Fail(t.ToString());

  PromotionState second;
  second.id = "p1";
  second.environment = "production";
  second.triggered_by = "alice";
  second.candidate_version = "v2";
  second.stable_version = "v1";
  second.stable_slot = "blue";
  PromotionMachine m1(config, ledger->get(), &slots, &clock, test::Quiet());
  if (Status b = m1.Begin(second); !b.ok()) return Fail(b.ToString());
  s = Drive(m1, clock, router_url, [](const PromotionState& st) {
    return st.phase == PromotionPhase::kRamping && st.step == 1;
  });
  if (!s.ok())
    return Fail(s.ToString() + " (phase " + std::string(ToString(m1.state().phase)) + ")");
  std::printf("AT_STEP_1\n");
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  return 0;
}
