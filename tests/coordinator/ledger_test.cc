// The promotion ledger on a real sqlite file: atomic commits, append-only, reopen.
#include "edgefarm/coordinator/ledger.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "edgefarm/coordinator/promotion_machine.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

TEST(Ledger, CommitsRowsAndEntriesAndSurvivesReopen) {
  edgefarm::testing::TempDir dir;
  const auto path = dir.path() / "promotion.db";
  {
    auto ledger = PromotionLedger::Open(path);
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    PromotionRow row{"p1", "production", "{}", 10, 10};
    LedgerEntry e;
    e.at_ms = 10;
    e.environment = "production";
    e.promotion_id = "p1";
    e.kind = "live";
    e.slot = "blue";
    e.version = "abc";
    e.actor = "coordinator";
    e.detail = "{}";
    ASSERT_TRUE((*ledger)->Commit(row, {e, e}).ok());
    row.state_json = R"({"x":1})";
    row.updated_at_ms = 20;
    ASSERT_TRUE((*ledger)->Commit(row, {}).ok());
  }
  auto ledger = PromotionLedger::Open(path);
  ASSERT_TRUE(ledger.ok());
  auto rows = (*ledger)->Promotions("production");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].state_json, R"({"x":1})");
  auto history = (*ledger)->History("production");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_LT((*history)[0].id, (*history)[1].id);
  EXPECT_EQ((*history)[0].version, "abc");
  EXPECT_TRUE((*ledger)->History("staging")->empty());
  EXPECT_EQ(*(*ledger)->Environments(), std::vector<std::string>{"production"});
}

TEST(Ledger, RefusesUpdateAndDelete) {
  edgefarm::testing::TempDir dir;
  const auto path = dir.path() / "promotion.db";
  {
    auto ledger = PromotionLedger::Open(path);
    ASSERT_TRUE(ledger.ok());
    LedgerEntry e;
    e.environment = "production";
    e.kind = "live";
    ASSERT_TRUE((*ledger)->Commit({}, {e}).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE ledger SET version = 'x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM ledger", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto ledger = PromotionLedger::Open(path);
  EXPECT_EQ((*ledger)->History("")->size(), 1u);
}

TEST(PromotionState, JsonRoundTripAndDamage) {
  PromotionState s;
  s.id = "p1";
  s.environment = "production";
  s.phase = PromotionPhase::kRamping;
  s.step = 2;
  s.decisions.push_back({"bob", "release-manager", true, "ok", 5});
  auto back = PromotionStateFromJson(PromotionStateToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->phase, PromotionPhase::kRamping);
  EXPECT_EQ(back->step, 2);
  ASSERT_EQ(back->decisions.size(), 1u);
  EXPECT_EQ(back->decisions[0].user, "bob");
  EXPECT_FALSE(PromotionStateFromJson("{").ok());
  EXPECT_FALSE(PromotionStateFromJson(R"({"id":"p","environment":"e","phase":"bogus"})").ok());
  EXPECT_FALSE(PromotionStateFromJson(R"({"id":7,"phase":"ramping","decisions":[1]})").ok());
}

}  // namespace
}  // namespace edgefarm::coordinator
