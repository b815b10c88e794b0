// Tokens, roles and the audit log over real HTTP against a real coordinator: every mutating
// route is tried with every role, secrets never come back, and the audit log is append-only.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "coordinator_fixture.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

class AuthTest : public CoordinatorFixture {
 protected:
  // Creates a token as admin; returns the secret.
  std::string CreateToken(const std::string& role, const std::string& name) {
    auto res = client_->Post("/api/v1/tokens", Admin(), json{{"role", role}, {"name", name}}.dump(),
                             "application/json");
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 201) << res->body;
    auto body = json::parse(res->body);
    EXPECT_EQ(body["role"], role);
    EXPECT_EQ(body["name"], name);
    return body.value("token", "");
  }

  int Call(const std::string& method, const std::string& path, const std::string& token,
           const std::string& body = "{}") {
    httplib::Result res =
        method == "POST" ? client_->Post(path.c_str(), Auth(token), body, "application/json")
        : method == "PUT"
            ? client_->Put(path.c_str(), Auth(token), body, "application/octet-stream")
            : client_->Get(path.c_str(), Auth(token));
    return res ? res->status : -1;
  }
};

TEST_F(AuthTest, EveryMutatingRouteChecksTheRole) {
  const std::string viewer = CreateToken("viewer", "dashboard");
  const std::string developer = CreateToken("developer", "ci");
  const std::string release = CreateToken("release-manager", "rm");
  const std::string admin2 = CreateToken("admin", "ops");
  ASSERT_EQ(PutBlob("m", admin_token_), 201);
  ASSERT_EQ(PutBlob("e", admin_token_), 201);
  const json run_body = {
      {"pipeline_yaml", kCellPipeline},
      {"files", {{"models/m.gguf", Sha256Hex("m")}, {"data/e.txt", Sha256Hex("e")}}}};
  struct Route {
    std::string method, path, body;
    std::string least;  // the least role allowed
  };
  const std::vector<Route> routes = {
      {"POST", "/api/v1/runs", run_body.dump(), "developer"},
      {"POST", "/api/v1/runs/run-none/cancel", "", "developer"},
      {"PUT", "/api/v1/blobs/" + Sha256Hex("blob"), "blob", "developer"},
      {"POST", "/api/v1/repos/none/trigger", "{}", "developer"},
      {"POST", "/api/v1/workers/none/drain", "", "admin"},
      {"POST", "/api/v1/repos", R"({"name":"r","url":"/nowhere"})", "admin"},
      {"POST", "/api/v1/tokens", R"({"role":"viewer"})", "admin"},
  };
  const std::vector<std::pair<std::string, std::string>> roles = {{"viewer", viewer},
                                                                  {"developer", developer},
                                                                  {"release-manager", release},
                                                                  {"admin", admin2}};
  const std::vector<std::string> order = {"viewer", "developer", "release-manager", "admin"};
  auto rank = [&](const std::string& role) {
    return std::find(order.begin(), order.end(), role) - order.begin();
  };
  for (const auto& route : routes) {
    EXPECT_EQ(Call(route.method, route.path, "", route.body), 401) << route.path;
    EXPECT_EQ(Call(route.method, route.path, "unknown-token", route.body), 401) << route.path;
    for (const auto& [role, token] : roles) {
      int status = Call(route.method, route.path, token, route.body);
      if (rank(role) < rank(route.least)) {
        EXPECT_EQ(status, 403) << role << " " << route.method << " " << route.path;
      } else {
        EXPECT_NE(status, 403) << role << " " << route.method << " " << route.path;
        EXPECT_NE(status, 401) << role << " " << route.method << " " << route.path;
      }
    }
  }
  // Every role may read.
  for (const auto& [role, token] : roles) {
    EXPECT_EQ(Call("GET", "/api/v1/runs", token), 200) << role;
    EXPECT_EQ(Call("GET", "/api/v1/workers", token), 200) << role;
    EXPECT_EQ(Call("GET", "/api/v1/repos", token), 200) << role;
  }
  EXPECT_EQ(Call("GET", "/api/v1/audit", viewer), 403);
  EXPECT_EQ(Call("GET", "/api/v1/tokens", developer), 403);
  // The worker token moves blobs and nothing else.
  EXPECT_EQ(Call("POST", "/api/v1/runs", worker_token_, run_body.dump()), 403);
  EXPECT_EQ(PutBlob("w", worker_token_), 201);
}

TEST_F(AuthTest, TokensAreShownOnceStoredHashedAndSurviveRestarts) {
  const std::string developer = CreateToken("developer", "ci");
  ASSERT_EQ(developer.size(), 64u);
  auto list = client_->Get("/api/v1/tokens", Admin());
  ASSERT_TRUE(list);
  EXPECT_EQ(list->body.find(developer), std::string::npos);
  auto tokens = json::parse(list->body)["tokens"];
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0]["id"], Sha256Hex(developer).substr(0, 12));
  EXPECT_EQ(tokens[0]["name"], "ci");
  // The database holds the hash, not the token.
  std::string db = edgefarm::testing::ReadFile(options_.data_dir / "control.db");
  EXPECT_EQ(db.find(developer), std::string::npos);

  for (const auto& bad : {json{{"role", "root"}}, json{{"role", "worker"}}, json::object(),
                          json{{"role", "viewer"}, {"name", "bad/name"}}}) {
    auto res = client_->Post("/api/v1/tokens", Admin(), bad.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad.dump();
  }
  StopCoordinator();
  StartCoordinator();
  EXPECT_EQ(Call("GET", "/api/v1/runs", developer), 200);
  EXPECT_EQ(Call("POST", "/api/v1/workers/x/drain", developer, ""), 403);
}

TEST_F(AuthTest, MutatingCallsAreAuditedAppendOnly) {
  const std::string developer = CreateToken("developer", "ci");
  EXPECT_EQ(Call("POST", "/api/v1/runs/run-none/cancel", developer, ""), 404);
  EXPECT_EQ(Call("POST", "/api/v1/workers/none/drain", developer, ""), 403);
  EXPECT_EQ(Call("POST", "/api/v1/runs", "wrong-token", "{}"), 401);
  EXPECT_EQ(Call("GET", "/api/v1/runs", developer), 200);  // reads are not audited
  // Rows are durable before each answer; WaitFor only guards against a slow store.
  std::string audit;
  ASSERT_TRUE(edgefarm::testing::WaitFor([&] {
    auto res = client_->Get("/api/v1/audit", Admin());
    if (!res || res->status != 200) return false;
    audit = res->body;
    return json::parse(audit)["entries"].size() >= 4;
  }));
  EXPECT_EQ(audit.find(developer), std::string::npos);
  EXPECT_EQ(audit.find(admin_token_), std::string::npos);
  auto entries = json::parse(audit)["entries"];
  ASSERT_EQ(entries.size(), 4u) << entries.dump();
  EXPECT_EQ(entries[0]["path"], "/api/v1/tokens");
  EXPECT_EQ(entries[0]["role"], "admin");
  EXPECT_EQ(entries[0]["status"], 201);
  const std::string developer_id = Sha256Hex(developer).substr(0, 12);
  EXPECT_EQ(entries[1]["actor"], developer_id + " (ci)");
  EXPECT_EQ(entries[1]["method"], "POST");
  EXPECT_EQ(entries[1]["path"], "/api/v1/runs/run-none/cancel");
  EXPECT_EQ(entries[1]["status"], 404);
  EXPECT_EQ(entries[1]["at_ms"], clock_.UnixMillis());
  EXPECT_EQ(entries[1]["remote"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(entries[2]["status"], 403);
  EXPECT_EQ(entries[3]["actor"], "anonymous");
  EXPECT_EQ(entries[3]["status"], 401);

  // Append-only in the database itself.
  StopCoordinator();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((options_.data_dir / "control.db").c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor = 'someone else'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(AuthTest, HostileRequestsAreRefusedCleanly) {
  const std::string developer = CreateToken("developer", "ci");
  auto res = client_->Post("/api/v1/repos", Admin(), "{not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "invalid_json");
  res = client_->Post("/api/v1/tokens", Admin(), std::string(options_.max_request_bytes + 1, '{'),
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(json::parse(res->body)["error"]["code"], "too_large");
  res = client_->Post("/api/v1/repos", Admin(), R"({"name":"..","url":"/x"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = client_->Post("/api/v1/repos/none/trigger", Auth(developer),
                      R"({"ref":"refs/heads/../../x"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);  // unknown repository first
  res = client_->Post("/api/v1/repos", Admin(), R"({"name":"r","url":"/x"})", "application/json");
  ASSERT_TRUE(res);
  res = client_->Post("/api/v1/repos/r/trigger", Auth(developer), R"({"ref":"refs/heads/../../x"})",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  // Artifact names are plain file names.
  for (const char* name : {"..", "..%2F..%2Fetc%2Fpasswd", "a..b"}) {
    res = client_->Get((std::string("/api/v1/jobs/job-x/artifacts/") + name).c_str(),
                       Auth(developer));
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 400 || res->status == 404) << name << " " << res->status;
  }
  res = client_->Get("/api/v1/jobs/job-x/artifacts/..", Auth(developer));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = client_->Get(("/api/v1/artifacts/" + Sha256Hex("x") + "?name=../../etc/passwd").c_str(),
                     Auth(developer));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = client_->Get("/api/v1/runs?limit=abc", Auth(developer));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = client_->Get("/api/v1/runs?state=bogus", Auth(developer));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

}  // namespace
}  // namespace edgefarm::coordinator
