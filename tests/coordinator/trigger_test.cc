// Git triggers end to end against a real coordinator: a bare repository in a temp dir, real
// pushes with the git CLI, signed GitHub/GitLab/Gitea deliveries over HTTP, and polling driven by
// the coordinator's ManualClock. Waits are WaitFor on observable state, never sleeps.
#include <gtest/gtest.h>

#include "coordinator_fixture.h"
#include "edgefarm/coordinator/webhook.h"
#include "git_test_repo.h"

namespace edgefarm::coordinator {
namespace {

using edgefarm::testing::WaitFor;
using nlohmann::json;

constexpr char kSecret[] = "webhook-s3cret-value";

constexpr char kFilteredPipeline[] = R"(name: pushed
on:
  push:
    branches: [main, "release/*"]
model:
  path: models/m.gguf
  eval_text: data/e.txt
matrix:
  framework: [llama_cpp]
  target: [intel-x86]
)";

class TriggerTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    options_.trigger_wake_interval = std::chrono::milliseconds(10);
    CoordinatorFixture::SetUp();
    git_ = std::make_unique<GitTestRepo>(dir_.path() / "git");
    git_->Write(".edgefarm.yml", kFilteredPipeline);
    git_->Write("models/m.gguf", "model bytes v1");
    git_->Write("data/e.txt", "eval text");
    first_ = git_->Commit("Add the model");
    git_->Push("main");
  }

  int Register(json body, const std::string& token = "") {
    auto res = client_->Post("/api/v1/repos", Auth(token.empty() ? admin_token_ : token),
                             body.dump(), "application/json");
    return res ? res->status : -1;
  }
  json RepoBody(int64_t poll_interval_s = 0) {
    return {{"name", "models"},
            {"url", git_->origin().string()},
            {"webhook_secret", kSecret},
            {"poll_interval_s", poll_interval_s}};
  }

  json PushBody(const std::string& ref, const std::string& before, const std::string& after) {
    return {{"ref", ref},
            {"before", before},
            {"after", after},
            {"repository", {{"full_name", "acme/models"}, {"clone_url", git_->origin().string()}}}};
  }

  httplib::Result Deliver(const std::string& body, const std::string& delivery,
                          const std::string& secret = kSecret, const std::string& event = "push") {
    httplib::Headers headers = {{"X-GitHub-Event", event},
                                {"X-GitHub-Delivery", delivery},
                                {"X-Hub-Signature-256", "sha256=" + HmacSha256Hex(secret, body)}};
    return client_->Post("/hooks/github", headers, body, "application/json");
  }

  // Waits until the delivery has been worked on; returns its record.
  json AwaitDelivery(const std::string& id) {
    json delivery;
    EXPECT_TRUE(WaitFor([&] {
      delivery = GetJson("/api/v1/deliveries/" + id);
      return delivery.is_object() && delivery.value("state", "") != "queued" &&
             delivery.contains("state");
    })) << delivery.dump();
    return delivery;
  }

  json Runs(const std::string& query = "") { return GetJson("/api/v1/runs" + query)["runs"]; }

  std::unique_ptr<GitTestRepo> git_;
  std::string first_;
};

TEST_F(TriggerTest, SignedGithubPushStartsOneRunAtThePushedCommit) {
  ASSERT_EQ(Register(RepoBody()), 201);
  git_->Write("models/m.gguf", "model bytes v2");
  const std::string second = git_->Commit("Quantise harder");
  git_->Push("main");

  const std::string body = PushBody("refs/heads/main", first_, second).dump();
  auto res = Deliver(body, "delivery-1");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(json::parse(res->body)["delivery"], "github:delivery-1");
  json delivery = AwaitDelivery("github:delivery-1");
  ASSERT_EQ(delivery["state"], "started") << delivery.dump();

  const std::string run_id = delivery["run_id"];
  json run = GetJson("/api/v1/runs/" + run_id);
  EXPECT_EQ(run["name"], "pushed");
  EXPECT_EQ(run["trigger"]["repo"], "models");
  EXPECT_EQ(run["trigger"]["ref"], "refs/heads/main");
  EXPECT_EQ(run["trigger"]["commit"], second);
  EXPECT_EQ(run["trigger"]["author"], "Ada <ada@example.com>");
  EXPECT_EQ(run["trigger"]["message"], "Quantise harder\n");
  ASSERT_EQ(run["jobs"].size(), 1u);
  // The model was read at the pushed commit (v2, not the work tree or v1) into the blob store.
  auto blob = client_->Get(("/api/v1/artifacts/" + Sha256Hex("model bytes v2")).c_str(), Admin());
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->status, 200);
  EXPECT_EQ(blob->body, "model bytes v2");
  EXPECT_EQ(Runs("?repo=models&commit=" + second).size(), 1u);

  // The same delivery again: answered, nothing new. Another delivery of the same commit: skipped.
  res = Deliver(body, "delivery-1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["duplicate"], true);
  res = Deliver(body, "delivery-2");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  delivery = AwaitDelivery("github:delivery-2");
  EXPECT_EQ(delivery["state"], "skipped");
  EXPECT_EQ(delivery["run_id"], run_id);
  EXPECT_EQ(Runs().size(), 1u);

  // Unless forced (a developer's manual trigger).
  res = client_->Post("/api/v1/repos/models/trigger", Admin(),
                      json{{"ref", "refs/heads/main"}, {"commit", second}, {"force", true}}.dump(),
                      "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  delivery = AwaitDelivery(json::parse(res->body)["delivery"]);
  EXPECT_EQ(delivery["state"], "started");
  EXPECT_EQ(Runs().size(), 2u);

  // Deliveries are durable: after a restart the duplicate is still recognised.
  StopCoordinator();
  StartCoordinator();
  res = Deliver(body, "delivery-1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Runs().size(), 2u);
  EXPECT_EQ(GetJson("/api/v1/runs/" + run_id)["trigger"]["commit"], second);
}

TEST_F(TriggerTest, BadOrMissingSignatureIs401AndCreatesNothing) {
  ASSERT_EQ(Register(RepoBody()), 201);
  const std::string body = PushBody("refs/heads/main", std::string(40, '0'), first_).dump();
  auto res = Deliver(body, "forged", "not-the-secret");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "bad_signature");
  EXPECT_EQ(res->body.find(kSecret), std::string::npos);
  res = client_->Post("/hooks/github", {{"X-GitHub-Event", "push"}}, body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = client_->Post("/hooks/gitlab", {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", "no"}},
                      body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  int status = 0;
  GetJson("/api/v1/deliveries/github:forged", &status);
  EXPECT_EQ(status, 404);
  EXPECT_TRUE(Runs().empty());
  EXPECT_FALSE(std::filesystem::exists(options_.data_dir / "mirrors" / "models.git"));
  // The repository listing never shows the secret either.
  auto repos = client_->Get("/api/v1/repos", Admin());
  ASSERT_TRUE(repos);
  EXPECT_EQ(repos->body.find(kSecret), std::string::npos);
  EXPECT_EQ(json::parse(repos->body)["repositories"][0]["webhook_secret_set"], true);
}

TEST_F(TriggerTest, PingIsAnsweredAndOtherProvidersWork) {
  ASSERT_EQ(Register(RepoBody()), 201);
  json ping = {{"zen", "hi"}, {"repository", {{"clone_url", git_->origin().string() + "/"}}}};
  auto res = Deliver(ping.dump(), "p1", kSecret, "ping");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["event"], "ping");

  const std::string body = PushBody("refs/heads/main", std::string(40, '0'), first_).dump();
  res = client_->Post("/hooks/gitlab?repo=models",
                      {{"X-Gitlab-Event", "Push Hook"},
                       {"X-Gitlab-Token", kSecret},
                       {"X-Gitlab-Event-UUID", "gl-1"}},
                      body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(AwaitDelivery("gitlab:gl-1")["state"], "started");
  res = client_->Post("/hooks/gitea",
                      {{"X-Gitea-Event", "push"},
                       {"X-Gitea-Delivery", "gt-1"},
                       {"X-Gitea-Signature", HmacSha256Hex(kSecret, body)}},
                      body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  // Same commit and pipeline as the GitLab delivery: no second run.
  EXPECT_EQ(AwaitDelivery("gitea:gt-1")["state"], "skipped");
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_F(TriggerTest, BranchTheFilterExcludesStartsNoRun) {
  ASSERT_EQ(Register(RepoBody()), 201);
  git_->Checkout("feature/x");
  git_->Write("models/m.gguf", "experimental");
  const std::string commit = git_->Commit("Try something");
  git_->Push("feature/x");
  auto res = Deliver(PushBody("refs/heads/feature/x", first_, commit).dump(), "feature-1");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202);
  json delivery = AwaitDelivery("github:feature-1");
  EXPECT_EQ(delivery["state"], "skipped");
  EXPECT_NE(delivery["detail"].get<std::string>().find("feature/x"), std::string::npos);
  EXPECT_TRUE(Runs().empty());
  // release/* is allowed by the pipeline's on.push.branches.
  git_->Checkout("release/1.0");
  git_->Push("release/1.0");
  res = Deliver(PushBody("refs/heads/release/1.0", std::string(40, '0'), commit).dump(), "rel-1");
  ASSERT_TRUE(res);
  EXPECT_EQ(AwaitDelivery("github:rel-1")["state"], "started");
}

TEST_F(TriggerTest, PollingPicksUpAPush) {
  ASSERT_EQ(Register(RepoBody(/*poll_interval_s=*/30)), 201);
  auto polls = [&] { return GetJson("/api/v1/repos")["repositories"][0]["polls"].get<int64_t>(); };
  // The first poll records the current tips as a baseline and starts nothing.
  ASSERT_TRUE(WaitFor([&] { return polls() >= 1; }));
  EXPECT_TRUE(Runs().empty());
  git_->Write("models/m.gguf", "model bytes v3");
  const std::string pushed = git_->Commit("Polled change");
  git_->Push("main");
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(WaitFor([&] { return Runs("?commit=" + pushed).size() == 1; }));
  EXPECT_EQ(Runs().size(), 1u);
  json run = GetJson("/api/v1/runs/" + Runs()[0]["id"].get<std::string>());
  EXPECT_EQ(run["trigger"]["commit"], pushed);
  EXPECT_EQ(run["trigger"]["delivery"], "poll:models:main:" + pushed);
}

TEST_F(TriggerTest, HostileDeliveriesAreRefusedCleanly) {
  ASSERT_EQ(Register(RepoBody()), 201);
  // Signed, but the ref escapes refs/heads or is not a commit.
  for (const auto& [ref, after] :
       std::vector<std::pair<std::string, std::string>>{{"refs/heads/../../etc/passwd", first_},
                                                        {"refs/heads/a..b", first_},
                                                        {"refs/heads/main", "HEAD"},
                                                        {"refs/heads/main", "../../x"}}) {
    auto res = Deliver(PushBody(ref, std::string(40, '0'), after).dump(), "hostile");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << ref << " " << after << ": " << res->body;
  }
  auto res = Deliver("{not json", "garbage");
  ASSERT_TRUE(res);
  EXPECT_TRUE(res->status == 400 || res->status == 404) << res->status;
  res = client_->Post("/hooks/github?repo=models",
                      {{"X-GitHub-Event", "push"},
                       {"X-Hub-Signature-256", "sha256=" + HmacSha256Hex(kSecret, "{not json")}},
                      "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "invalid_request");
  res = client_->Post("/hooks/github?repo=models", {{"X-GitHub-Event", "push"}},
                      std::string(options_.max_request_bytes + 1, 'x'), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  res = client_->Post("/hooks/nonsense", {}, "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_TRUE(Runs().empty());
}

TEST_F(TriggerTest, PipelineErrorsAndMissingFilesFailTheDeliveryWithTheReason) {
  ASSERT_EQ(Register(RepoBody()), 201);
  git_->Write(".edgefarm.yml", "name: broken\nmatrix:\n  targte: [intel-x86]\n");
  const std::string broken = git_->Commit("Break the pipeline");
  git_->Push("main");
  auto res = Deliver(PushBody("refs/heads/main", first_, broken).dump(), "broken");
  ASSERT_TRUE(res);
  json delivery = AwaitDelivery("github:broken");
  EXPECT_EQ(delivery["state"], "failed");
  EXPECT_NE(delivery["detail"].get<std::string>().find(".edgefarm.yml:3:3"), std::string::npos)
      << delivery.dump();
  git_->Write(".edgefarm.yml", kFilteredPipeline);
  git_->Git("rm -q data/e.txt");
  const std::string missing = git_->Commit("Drop the eval text");
  git_->Push("main");
  res = Deliver(PushBody("refs/heads/main", broken, missing).dump(), "missing");
  ASSERT_TRUE(res);
  delivery = AwaitDelivery("github:missing");
  EXPECT_EQ(delivery["state"], "failed");
  EXPECT_NE(delivery["detail"].get<std::string>().find("data/e.txt"), std::string::npos);
  EXPECT_TRUE(Runs().empty());
}

}  // namespace
}  // namespace edgefarm::coordinator
