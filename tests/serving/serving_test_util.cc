#include "serving_test_util.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "edgefarm/common/sha256.h"
#include "edgefarm/engine/model.h"
#include "test_support.h"

namespace edgefarm::serving::testing {

std::filesystem::path ModelPath() {
  return edgefarm::testing::TestData("models/stories260K.gguf");
}

const std::string& ModelDigest() {
  static const std::string digest = [] {
    auto d = Sha256File(ModelPath());
    return d.ok() ? *d : std::string();
  }();
  return digest;
}

std::shared_ptr<const engine::LlamaModel> SharedModel() {
  static std::mutex mu;
  static std::shared_ptr<const engine::LlamaModel> model;
  std::lock_guard<std::mutex> lock(mu);
  if (!model) {
    auto loaded = engine::LlamaModel::Load(ModelPath());
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status().ToString();
      return nullptr;
    }
    model = std::shared_ptr<const engine::LlamaModel>(std::move(*loaded));
  }
  return model;
}

std::unique_ptr<InferenceServer> StartServer(const FaultOptions& fault, int http_threads) {
  ServerOptions o = DefaultServerOptions();
  o.fault = fault;
  o.http_threads = http_threads;
  auto server =
      InferenceServer::Create(SharedModel(), "stories260K.gguf", ModelDigest(), o, nullptr);
  if (!server.ok()) {
    ADD_FAILURE() << server.status().ToString();
    return nullptr;
  }
  if (Status s = (*server)->Start(); !s.ok()) {
    ADD_FAILURE() << s.ToString();
    return nullptr;
  }
  return std::move(*server);
}

namespace {

HttpReply ToReply(const httplib::Result& r) {
  HttpReply reply;
  if (!r) return reply;
  reply.status = r->status;
  reply.body = r->body;
  reply.slot = r->get_header_value("X-Edgefarm-Slot");
  return reply;
}

}  // namespace

HttpReply Post(int port, const std::string& path, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(60));
  return ToReply(client.Post(path.c_str(), body, "application/json"));
}

HttpReply Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(60));
  return ToReply(client.Get(path.c_str()));
}

HttpReply Complete(int port, int max_tokens, const std::string& prompt) {
  const nlohmann::json body{{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
  return Post(port, "/v1/completions", body.dump());
}

}  // namespace edgefarm::serving::testing
