// The HTTP API of a real coordinator, through httplib::Client.
#include <sys/stat.h>

#include "coordinator_fixture.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

class HttpApiTest : public CoordinatorFixture {};

TEST_F(HttpApiTest, WritesEndpointsAndPrivateTokenFiles) {
  auto endpoints = json::parse(edgefarm::testing::ReadFile(options_.data_dir / "endpoints.json"));
  EXPECT_EQ(endpoints["http"], coordinator_->http_url());
  EXPECT_EQ(endpoints["zmq"], coordinator_->zmq_endpoint());
  EXPECT_EQ(endpoints["zmq"].get<std::string>().rfind("tcp://127.0.0.1:", 0), 0u);
  for (const char* file : {"admin.token", "worker.token"}) {
    struct stat st {};
    ASSERT_EQ(stat((options_.data_dir / file).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600) << file;
  }
  EXPECT_EQ(admin_token_.size(), 64u);
  EXPECT_NE(admin_token_, worker_token_);
}

TEST_F(HttpApiTest, HealthNeedsNoToken) {
  auto res = client_->Get("/api/v1/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto body = json::parse(res->body);
  EXPECT_EQ(body["ok"], true);
  EXPECT_EQ(body["bad_frames"], 0);
}

TEST_F(HttpApiTest, RefusesMissingWrongAndUnderprivilegedTokens) {
  for (const auto& headers : {httplib::Headers{}, Auth("not-a-token"), Auth(""),
                              httplib::Headers{{"Authorization", admin_token_}}}) {
    for (const char* path : {"/api/v1/runs", "/api/v1/workers", "/api/v1/runs/x"}) {
      auto res = client_->Get(path, headers);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 401) << path;
      EXPECT_EQ(json::parse(res->body)["error"]["code"], "unauthenticated");
      EXPECT_EQ(res->body.find(admin_token_), std::string::npos);
    }
  }
  // The worker token is known but may only move blobs.
  for (const char* path : {"/api/v1/runs", "/api/v1/workers", "/api/v1/runs/x"}) {
    auto res = client_->Get(path, Auth(worker_token_));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << path;
    EXPECT_EQ(json::parse(res->body)["error"]["code"], "forbidden");
  }
  auto res = client_->Post("/api/v1/runs", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(PutBlob("data", "wrong"), 401);
}

TEST_F(HttpApiTest, BlobsRoundTripAndBadUploadsAreRefused) {
  EXPECT_EQ(PutBlob("model bytes", worker_token_), 201);
  auto res =
      client_->Get(("/api/v1/blobs/" + Sha256Hex("model bytes")).c_str(), Auth(worker_token_));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "model bytes");
  EXPECT_EQ(PutBlob("other bytes", admin_token_, Sha256Hex("model bytes!")), 400);
  // Traversal never reaches the store: refused by the route (404) or the digest check (400).
  for (const char* hostile : {"..%2F..%2Fetc%2Fpasswd", "..", "ABCDEF", "%2e%2e"}) {
    int status = PutBlob("x", admin_token_, hostile);
    EXPECT_TRUE(status == 400 || status == 404) << hostile << " -> " << status;
  }
  EXPECT_FALSE(std::filesystem::exists(options_.data_dir / "etc"));
  EXPECT_EQ(PutBlob(std::string((1 << 20) + 1, 'x'), admin_token_), 413);
  res = client_->Get(("/api/v1/blobs/" + Sha256Hex("absent")).c_str(), Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(HttpApiTest, InvalidRequestsGetClearErrors) {
  auto res = client_->Post("/api/v1/runs", Admin(), "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "invalid_request");

  res = client_->Post("/api/v1/runs", Admin(), std::string(70 * 1024, ' '), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);

  res = PostRun("name: broken\nmatrix:\n  framework: [llama_cpp]\n  targte: [intel-x86]\n",
                json::object());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  auto error = json::parse(res->body)["error"];
  EXPECT_EQ(error["code"], "invalid_pipeline");
  EXPECT_NE(error["message"].get<std::string>().find(
                ".edgefarm.yml:4:3: unknown key 'targte' in 'matrix' (did you mean 'target'?)"),
            std::string::npos)
      << error["message"];

  res = PostRun(kCellPipeline, {{"models/m.gguf", Sha256Hex("m")}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "missing_file");
  EXPECT_NE(res->body.find("data/e.txt"), std::string::npos);

  res = PostRun(kCellPipeline, {{"models/m.gguf", Sha256Hex("m")}, {"data/e.txt", Sha256Hex("e")}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);  // declared but never uploaded
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "missing_file");
}

TEST_F(HttpApiTest, SubmittedRunIsListedWithItsJobs) {
  ASSERT_EQ(PutBlob("m", admin_token_), 201);
  ASSERT_EQ(PutBlob("e", admin_token_), 201);
  auto res =
      PostRun(kCellPipeline, {{"models/m.gguf", Sha256Hex("m")}, {"data/e.txt", Sha256Hex("e")}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  const std::string run_id = json::parse(res->body)["run_id"];

  auto runs = GetJson("/api/v1/runs");
  ASSERT_EQ(runs["runs"].size(), 1u);
  EXPECT_EQ(runs["runs"][0]["id"], run_id);
  EXPECT_EQ(runs["runs"][0]["name"], "itest");
  EXPECT_EQ(runs["runs"][0]["jobs_total"], 1);
  EXPECT_EQ(runs["runs"][0]["jobs_done"], 0);

  auto run = GetJson("/api/v1/runs/" + run_id);
  EXPECT_EQ(run["state"], "queued");
  EXPECT_EQ(run["pipeline_file"], ".edgefarm.yml");
  ASSERT_EQ(run["jobs"].size(), 1u);
  auto job = run["jobs"][0];
  EXPECT_EQ(job["kind"], "engine");
  EXPECT_EQ(job["framework"], "llama_cpp");
  EXPECT_EQ(job["target"], "intel-x86");
  EXPECT_EQ(job["state"], "unschedulable");  // no worker registered
  EXPECT_EQ(job["required_tags"]["cpu.vendor"], "intel");
  EXPECT_EQ(job["missing_tags"], json({"arch=x86_64", "cpu.vendor=intel"}));
  EXPECT_TRUE(job["result"].is_null());
  EXPECT_TRUE(job["attempts"].empty());

  auto one = GetJson("/api/v1/jobs/" + job["id"].get<std::string>());
  EXPECT_EQ(one["run_id"], run_id);
  auto log =
      client_->Get(("/api/v1/jobs/" + job["id"].get<std::string>() + "/log").c_str(), Admin());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 200);
  EXPECT_EQ(log->get_header_value("X-Edgefarm-Log-Complete"), "false");
  int status = 0;
  GetJson("/api/v1/runs/run-nope", &status);
  EXPECT_EQ(status, 404);

  // The run, and the tokens, survive a restart.
  StopCoordinator();
  const std::string admin = admin_token_;
  StartCoordinator();
  EXPECT_EQ(admin_token_, admin);
  run = GetJson("/api/v1/runs/" + run_id);
  EXPECT_EQ(run["jobs"][0]["state"], "unschedulable");
}

TEST_F(HttpApiTest, CancelAndDrainRoutes) {
  ASSERT_EQ(PutBlob("m", admin_token_), 201);
  ASSERT_EQ(PutBlob("e", admin_token_), 201);
  auto res =
      PostRun(kCellPipeline, {{"models/m.gguf", Sha256Hex("m")}, {"data/e.txt", Sha256Hex("e")}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201);
  const std::string run_id = json::parse(res->body)["run_id"];
  res = client_->Post(("/api/v1/runs/" + run_id + "/cancel").c_str(), Admin(), "",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto run = json::parse(res->body);
  EXPECT_EQ(run["state"], "cancelled");
  EXPECT_EQ(run["jobs"][0]["state"], "cancelled");
  EXPECT_GT(run["finished_at_ms"].get<int64_t>(), 0);
  // Following the log of a finished job answers at once: nothing more will come.
  auto log = client_->Get(
      ("/api/v1/jobs/" + run["jobs"][0]["id"].get<std::string>() + "/log?follow=true").c_str(),
      Admin());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 200);
  EXPECT_EQ(log->get_header_value("X-Edgefarm-Log-Complete"), "true");
  res = client_->Post("/api/v1/runs/run-nope/cancel", Admin(), "", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client_->Post("/api/v1/workers/nobody/drain", Admin(), "", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client_->Post(("/api/v1/runs/" + run_id + "/cancel").c_str(), Auth(worker_token_), "",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
}

}  // namespace
}  // namespace edgefarm::coordinator
