// The scheduler's overload reporting through the real HTTP API: a run over the admission limit is
// answered 429 with the reason and counted in GET /api/v1/scheduler; and a run that finished
// before a coordinator restart is still served whole by GET /api/v1/runs/{id}.
#include "coordinator_fixture.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

class SchedulerHttpTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    options_.scheduler.max_queued_per_repo = 1;  // one unfinished job for direct submissions
    CoordinatorFixture::SetUp();
    ASSERT_EQ(PutBlob("m", admin_token_), 201);
    ASSERT_EQ(PutBlob("e", admin_token_), 201);
  }
  httplib::Result Submit() {
    return PostRun(kCellPipeline,
                   {{"models/m.gguf", Sha256Hex("m")}, {"data/e.txt", Sha256Hex("e")}});
  }
};

TEST_F(SchedulerHttpTest, ARunOverTheAdmissionLimitIs429AndReported) {
  auto first = Submit();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 201) << first->body;
  auto second = Submit();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429) << second->body;
  json error = json::parse(second->body)["error"];
  EXPECT_EQ(error["code"], "overloaded");
  EXPECT_NE(error["message"].get<std::string>().find("over the admission limit of 1"),
            std::string::npos)
      << error;

  int status = 0;
  json load = GetJson("/api/v1/scheduler", &status);
  ASSERT_EQ(status, 200) << load;
  EXPECT_EQ(load["max_queued_per_repo"], 1);
  ASSERT_EQ(load["repositories"].size(), 1u);
  EXPECT_EQ(load["repositories"][0]["repository"], "");
  EXPECT_EQ(load["repositories"][0]["unfinished"], 1);
  EXPECT_EQ(load["repositories"][0]["refused_runs"], 1);
  // The one cell has no worker to run it.
  EXPECT_EQ(load["unschedulable"], 1);
  EXPECT_EQ(GetJson("/api/v1/runs")["runs"].size(), 1u);  // the refused run was not stored
}

TEST_F(SchedulerHttpTest, AFinishedRunIsServedFromTheStoreAfterARestart) {
  auto res = Submit();
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  const std::string run_id = json::parse(res->body)["run_id"];
  auto cancelled = client_->Post(("/api/v1/runs/" + run_id + "/cancel").c_str(), Admin(), "",
                                 "application/json");
  ASSERT_TRUE(cancelled);
  ASSERT_EQ(cancelled->status, 200) << cancelled->body;

  StopCoordinator();
  StartCoordinator();  // loads only unfinished runs: this one is read back from sqlite
  int status = 0;
  json run = GetJson("/api/v1/runs/" + run_id, &status);
  ASSERT_EQ(status, 200) << run;
  EXPECT_EQ(run["state"], "cancelled");
  ASSERT_EQ(run["jobs"].size(), 1u);
  EXPECT_EQ(run["jobs"][0]["state"], "cancelled");
  EXPECT_EQ(run["jobs_total"], 1);
  EXPECT_EQ(run["jobs_done"], 1);
  json runs = GetJson("/api/v1/runs?state=cancelled");
  ASSERT_EQ(runs["runs"].size(), 1u);
  EXPECT_EQ(runs["runs"][0]["id"], run_id);
  // Its budget was released when it finished.
  json load = GetJson("/api/v1/scheduler");
  EXPECT_EQ(load["repositories"].size(), 0u);
}

}  // namespace
}  // namespace edgefarm::coordinator
