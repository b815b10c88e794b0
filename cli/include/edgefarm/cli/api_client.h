// A client for the coordinator's HTTP API (/api/v1, bearer token), the only CLI code that talks
// HTTP (cpp-httplib).
//
// Errors: a refused request becomes a Status whose message is "HTTP <status> <code>: <message>"
// from the API's {"error":{"code","message"}} body; an unreachable server is Unavailable. The
// token is never part of a message. Thread-safety: one client per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "edgefarm/common/status.h"

namespace httplib {
class Client;
}

namespace edgefarm::cli {

struct ServerConfig {
  std::string url;    // "http://127.0.0.1:8080"
  std::string token;  // admin token
};

// Where the CLI finds its server and token, first match wins:
//   server: --server, $EDGEFARM_SERVER, DATA/endpoints.json ("http") when --data is given;
//   token:  $EDGEFARM_TOKEN, --token-file, DATA/admin.token when --data is given.
struct ServerFlags {
  std::string server;
  std::filesystem::path token_file;
  std::filesystem::path data_dir;
};
Result<ServerConfig> ResolveServer(const ServerFlags& flags);

struct LogPiece {
  std::string data;
  bool complete = false;  // the attempt has finished and everything was sent
};

class ApiClient {
 public:
  explicit ApiClient(ServerConfig config);
  ~ApiClient();

  Result<nlohmann::json> Get(const std::string& path);
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body);
  // PUT /api/v1/blobs/{sha256 of file}; returns the digest.
  Result<std::string> PutBlob(const std::filesystem::path& file);
  Result<LogPiece> GetLog(const std::string& job_id, uint64_t offset);

  const std::string& url() const { return config_.url; }

 private:
  ServerConfig config_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace edgefarm::cli
