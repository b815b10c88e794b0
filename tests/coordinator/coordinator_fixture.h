// A real Coordinator on 127.0.0.1 port 0 in a temp dir, with an httplib client holding the admin
// token. Time is a ManualClock so no worker is ever lost while a test is slow.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/null_sink.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/coordinator.h"
#include "test_support.h"

namespace edgefarm::coordinator {

class CoordinatorFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = dir_ / "data";
    options_.max_blob_bytes = 1 << 20;
    options_.max_request_bytes = 64 * 1024;
    options_.native_target = "intel-x86";
    StartCoordinator();
  }
  void TearDown() override { StopCoordinator(); }

  void StartCoordinator() {
    coordinator_ = std::make_unique<Coordinator>(options_, &clock_, logger_);
    Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    admin_token_ = Token("admin.token");
    worker_token_ = Token("worker.token");
    auto endpoints =
        nlohmann::json::parse(edgefarm::testing::ReadFile(options_.data_dir / "endpoints.json"));
    http_url_ = endpoints.at("http");
    zmq_endpoint_ = endpoints.at("zmq");
    client_ = std::make_unique<httplib::Client>(http_url_);
    client_->set_read_timeout(60, 0);
  }
  void StopCoordinator() {
    if (coordinator_) coordinator_->Stop();
    coordinator_.reset();
  }

  std::string Token(const std::string& file) {
    std::string token = edgefarm::testing::ReadFile(options_.data_dir / file);
    while (!token.empty() && token.back() == '\n') token.pop_back();
    return token;
  }

  httplib::Headers Auth(const std::string& token) const {
    return {{"Authorization", "Bearer " + token}};
  }
  httplib::Headers Admin() const { return Auth(admin_token_); }

  // GET as admin, parsed; status in *status.
  nlohmann::json GetJson(const std::string& path, int* status = nullptr) {
    auto res = client_->Get(path.c_str(), Admin());
    if (!res) return nullptr;
    if (status) *status = res->status;
    return nlohmann::json::parse(res->body, nullptr, false);
  }

  // Uploads data as a blob with the given token; returns the HTTP status.
  int PutBlob(const std::string& data, const std::string& token, const std::string& digest = "") {
    auto res =
        client_->Put(("/api/v1/blobs/" + (digest.empty() ? Sha256Hex(data) : digest)).c_str(),
                     Auth(token), data, "application/octet-stream");
    return res ? res->status : -1;
  }

  httplib::Result PostRun(const std::string& yaml, const nlohmann::json& files) {
    nlohmann::json body = {
        {"pipeline_file", ".edgefarm.yml"}, {"pipeline_yaml", yaml}, {"files", files}};
    return client_->Post("/api/v1/runs", Admin(), body.dump(), "application/json");
  }

  edgefarm::testing::TempDir dir_;
  ManualClock clock_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  CoordinatorOptions options_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<httplib::Client> client_;
  std::string admin_token_, worker_token_, http_url_, zmq_endpoint_;
};

// A one-cell pipeline: llama_cpp on intel-x86, reading a model and an eval text.
inline constexpr char kCellPipeline[] = R"(name: itest
model:
  path: models/m.gguf
  eval_text: data/e.txt
matrix:
  framework: [llama_cpp]
  target: [intel-x86]
)";

}  // namespace edgefarm::coordinator
