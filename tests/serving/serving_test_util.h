// Helpers shared by the serving integration tests: the fixture model loaded once per process,
// in-process servers on 127.0.0.1 port 0, and a small HTTP client.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "edgefarm/serving/inference_server.h"

namespace edgefarm::engine {
class LlamaModel;
}

namespace edgefarm::serving::testing {

std::filesystem::path ModelPath();                        // tests/data/models/stories260K.gguf
const std::string& ModelDigest();                         // its sha256
std::shared_ptr<const engine::LlamaModel> SharedModel();  // loaded once

// A started server over the shared model; asserts (gtest) on failure and returns null.
std::unique_ptr<InferenceServer> StartServer(const FaultOptions& fault = {}, int http_threads = 4);

struct HttpReply {
  int status = 0;  // 0 = no response
  std::string body;
  std::string slot;  // X-Edgefarm-Slot header, when present
};
HttpReply Post(int port, const std::string& path, const std::string& body);
HttpReply Get(int port, const std::string& path);
// POST /v1/completions with a short greedy request.
HttpReply Complete(int port, int max_tokens = 4, const std::string& prompt = "Once upon a time");

}  // namespace edgefarm::serving::testing
