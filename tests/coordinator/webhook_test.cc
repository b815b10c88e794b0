// Unit tests: webhook signatures and payloads, ref and path validation, roles, repository
// registrations, and the libgit2 mirror against a real repository made with the git CLI.
#include "edgefarm/coordinator/webhook.h"

#include <gtest/gtest.h>

#include <map>

#include "edgefarm/coordinator/git2_repo.h"
#include "edgefarm/coordinator/repo_registry.h"
#include "edgefarm/coordinator/roles.h"
#include "git_test_repo.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

HeaderFn Headers(std::map<std::string, std::string> headers) {
  return [headers](const std::string& name) {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  };
}

TEST(WebhookTest, HmacMatchesPublishedVectors) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // GitHub's documented example for X-Hub-Signature-256.
  EXPECT_EQ(HmacSha256Hex("It's a Secret to Everybody", "Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(WebhookTest, VerifiesEachProvidersScheme) {
  const std::string body = R"({"ref":"refs/heads/main"})";
  const std::string mac = HmacSha256Hex("s3cret", body);
  EXPECT_TRUE(VerifyDelivery(Provider::kGitHub, Headers({{"X-Hub-Signature-256", "sha256=" + mac}}),
                             body, "s3cret"));
  EXPECT_FALSE(VerifyDelivery(Provider::kGitHub,
                              Headers({{"X-Hub-Signature-256", "sha256=" + mac}}), body + " ",
                              "s3cret"));
  EXPECT_FALSE(
      VerifyDelivery(Provider::kGitHub, Headers({{"X-Hub-Signature-256", mac}}), body, "s3cret"));
  EXPECT_FALSE(VerifyDelivery(Provider::kGitHub, Headers({}), body, "s3cret"));
  EXPECT_FALSE(
      VerifyDelivery(Provider::kGitHub, Headers({{"X-Hub-Signature-256", "sha256="}}), body, ""));
  EXPECT_TRUE(
      VerifyDelivery(Provider::kGitea, Headers({{"X-Gitea-Signature", mac}}), body, "s3cret"));
  EXPECT_FALSE(
      VerifyDelivery(Provider::kGitea, Headers({{"X-Gitea-Signature", mac}}), body, "other"));
  EXPECT_TRUE(
      VerifyDelivery(Provider::kGitLab, Headers({{"X-Gitlab-Token", "s3cret"}}), body, "s3cret"));
  EXPECT_FALSE(
      VerifyDelivery(Provider::kGitLab, Headers({{"X-Gitlab-Token", "s3cre"}}), body, "s3cret"));
  EXPECT_FALSE(VerifyDelivery(Provider::kGitLab, Headers({}), body, ""));
}

TEST(WebhookTest, ParsesPushesPingsAndRefusesGarbage) {
  auto push = ParseDelivery(
      Provider::kGitHub, Headers({{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-1"}}),
      R"({"ref":"refs/heads/main","before":"b","after":"a","repository":{"full_name":"acme/m","clone_url":"https://x/acme/m.git"}})");
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  EXPECT_EQ(push->event, "push");
  EXPECT_EQ(push->delivery_id, "d-1");
  EXPECT_EQ(push->ref, "refs/heads/main");
  EXPECT_EQ(push->after, "a");
  EXPECT_EQ(push->repo_names, (std::vector<std::string>{"acme/m", "https://x/acme/m.git"}));
  auto gitlab = ParseDelivery(
      Provider::kGitLab, Headers({{"X-Gitlab-Event", "Push Hook"}}),
      R"({"ref":"refs/heads/x","after":"a","project":{"path_with_namespace":"g/p"}})");
  ASSERT_TRUE(gitlab.ok());
  EXPECT_EQ(gitlab->event, "push");
  EXPECT_EQ(gitlab->delivery_id.size(), 64u);  // no id header: the body's hash
  auto ping = ParseDelivery(Provider::kGitHub, Headers({{"X-GitHub-Event", "ping"}}), "{}");
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->event, "ping");
  for (const char* bad : {"", "{", "[]", "null", "\"x\""}) {
    EXPECT_FALSE(ParseDelivery(Provider::kGitHub, Headers({}), bad).ok()) << bad;
  }
  EXPECT_FALSE(
      ParseDelivery(Provider::kGitHub, Headers({{"X-GitHub-Event", "push"}}), R"({"ref":1})").ok());
}

TEST(WebhookTest, BranchRefsAreCheckedLikeGitDoes) {
  EXPECT_EQ(BranchOfRef("refs/heads/main").value(), "main");
  EXPECT_EQ(BranchOfRef("refs/heads/release/1.2").value(), "release/1.2");
  for (const char* bad :
       {"main", "refs/tags/v1", "refs/heads/", "refs/heads/../../etc", "refs/heads/a..b",
        "refs/heads/x.lock", "refs/heads/a//b", "refs/heads/a b", "refs/heads/a@{1}",
        "refs/heads/-x", "refs/heads/x/", "refs/heads/a\nb"}) {
    EXPECT_FALSE(BranchOfRef(bad).ok()) << bad;
  }
}

TEST(WebhookTest, RepoPathsStayInsideTheRepository) {
  EXPECT_TRUE(IsSafeRepoPath("models/m.gguf"));
  EXPECT_TRUE(IsSafeRepoPath(".edgefarm.yml"));
  for (const char* bad :
       {"", "/etc/passwd", "../x", "a/../../b", "a/./b", "a//b", "a/", "..", "a\\b"}) {
    EXPECT_FALSE(IsSafeRepoPath(bad)) << bad;
  }
}

TEST(RolesTest, EachRoleMayDoWhatItsNameSays) {
  using P = Permission;
  EXPECT_TRUE(Allows(Role::kViewer, P::kRead));
  EXPECT_FALSE(Allows(Role::kViewer, P::kSubmit));
  EXPECT_FALSE(Allows(Role::kViewer, P::kBlobWrite));
  EXPECT_TRUE(Allows(Role::kDeveloper, P::kSubmit));
  EXPECT_FALSE(Allows(Role::kDeveloper, P::kRelease));
  EXPECT_TRUE(Allows(Role::kReleaseManager, P::kRelease));
  EXPECT_FALSE(Allows(Role::kReleaseManager, P::kAdmin));
  EXPECT_TRUE(Allows(Role::kAdmin, P::kAdmin));
  EXPECT_TRUE(Allows(Role::kWorker, P::kBlobWrite));
  EXPECT_FALSE(Allows(Role::kWorker, P::kRead));
  EXPECT_EQ(ParseRole("release-manager"), Role::kReleaseManager);
  EXPECT_FALSE(ParseRole("root").has_value());
}

TEST(RepoRegistryTest, ValidatesRegistrationsAndHidesSecrets) {
  auto repo = RepoFromJson({{"name", "models"},
                            {"url", "https://bot:hunter2@git.example/acme/models.git"},
                            {"branches", {"main"}},
                            {"webhook_secret", "s3cret"},
                            {"poll_interval_s", 60}});
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto shown = RepoToJson(*repo).dump();
  EXPECT_EQ(shown.find("s3cret"), std::string::npos);
  EXPECT_EQ(shown.find("hunter2"), std::string::npos);
  EXPECT_NE(shown.find("https://git.example/acme/models.git"), std::string::npos);
  for (const auto& bad : std::vector<nlohmann::json>{
           {{"name", "../x"}, {"url", "u"}},
           {{"name", ".hidden"}, {"url", "u"}},
           {{"name", "ok"}},
           {{"name", "ok"}, {"url", "u"}, {"pipeline_file", "../.edgefarm.yml"}},
           {{"name", "ok"}, {"url", "u"}, {"poll_interval_s", -1}},
           {{"name", "ok"}, {"url", "u"}, {"branches", "main"}},
           nlohmann::json::array()}) {
    EXPECT_FALSE(RepoFromJson(bad).ok()) << bad.dump();
  }
}

TEST(RepoRegistryTest, SecretsComeFromEnvironmentOrFiles) {
  edgefarm::testing::TempDir dir;
  std::ofstream(dir.path() / "secret") << "from-file\n";
  RepoRecord repo;
  repo.webhook_secret_file = (dir.path() / "secret").string();
  EXPECT_EQ(ResolveWebhookSecret(repo).value(), "from-file");
  ::setenv("EDGEFARM_TEST_SECRET", "from-env", 1);
  repo.webhook_secret_file.clear();
  repo.webhook_secret_env = "EDGEFARM_TEST_SECRET";
  EXPECT_EQ(ResolveWebhookSecret(repo).value(), "from-env");
  repo.webhook_secret_env = "EDGEFARM_TEST_UNSET_VARIABLE";
  auto missing = ResolveWebhookSecret(repo);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("EDGEFARM_TEST_UNSET_VARIABLE"), std::string::npos);
}

TEST(GitMirrorTest, FetchesAndReadsCommitsWithoutACheckout) {
  edgefarm::testing::TempDir dir;
  GitTestRepo git(dir.path());
  git.Write(".edgefarm.yml", "name: a\n");
  git.Write("models/m.gguf", "v1");
  const std::string first = git.Commit("first");
  git.Write("models/m.gguf", "v2");
  git.Write("docs/readme.md", "hi");
  const std::string second = git.Commit("second\n\nbody");
  git.Push("main");

  auto mirror = GitMirror::Open(dir.path() / "mirror.git", git.origin().string());
  ASSERT_TRUE(mirror.ok()) << mirror.status().ToString();
  ASSERT_TRUE((*mirror)->Fetch({}).ok());
  auto branches = (*mirror)->Branches();
  ASSERT_TRUE(branches.ok());
  EXPECT_EQ(branches->at("main"), second);
  EXPECT_EQ((*mirror)->ReadFile(first, "models/m.gguf", 100).value(), "v1");
  EXPECT_EQ((*mirror)->ReadFile(second, "models/m.gguf", 100).value(), "v2");
  EXPECT_FALSE((*mirror)->ReadFile(first, "docs/readme.md", 100).value().has_value());
  EXPECT_FALSE((*mirror)->ReadFile(second, "models/m.gguf", 1).ok());  // over the limit
  auto changed = (*mirror)->ChangedPaths(first, second);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, (std::vector<std::string>{"docs/readme.md", "models/m.gguf"}));
  // No `before` (a new branch): the diff is against the first parent.
  EXPECT_EQ((*mirror)->ChangedPaths(std::string(40, '0'), second).value(), *changed);
  EXPECT_EQ((*mirror)->ChangedPaths("", first).value(),
            (std::vector<std::string>{".edgefarm.yml", "models/m.gguf"}));
  auto info = (*mirror)->Commit(second);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->author, "Ada <ada@example.com>");
  EXPECT_EQ(info->message, "second\n\nbody\n");
  EXPECT_EQ(info->parents, std::vector<std::string>{first});
  EXPECT_EQ((*mirror)->Commit(std::string(40, 'f')).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*mirror)->Commit("HEAD").status().code(), StatusCode::kInvalidArgument);
}

TEST(GitMirrorTest, FailedFetchNeverQuotesCredentials) {
  edgefarm::testing::TempDir dir;
  auto mirror = GitMirror::Open(dir.path() / "mirror.git",
                                "file://bot:hunter2@" + (dir.path() / "absent.git").string());
  ASSERT_TRUE(mirror.ok());
  Status fetched = (*mirror)->Fetch({"bot:hunter2"});
  ASSERT_FALSE(fetched.ok());
  EXPECT_EQ(fetched.message().find("hunter2"), std::string::npos) << fetched.message();
  EXPECT_EQ(RedactUrl("https://u:p@h/x.git"), "https://h/x.git");
  EXPECT_EQ(RedactUrl("/srv/git/x.git"), "/srv/git/x.git");
}

}  // namespace
}  // namespace edgefarm::coordinator
