// ApiClient over cpp-httplib. httplib and nlohmann::json exceptions stay inside this file.
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "edgefarm/cli/api_client.h"
#include "edgefarm/common/sha256.h"

namespace edgefarm::cli {

namespace fs = std::filesystem;

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

Result<std::string> ReadSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status ErrorFrom(const std::string& what, const httplib::Result& res) {
  if (!res) return Unavailable(what + ": " + httplib::to_string(res.error()));
  std::string detail = "HTTP " + std::to_string(res->status);
  const auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (!body.is_discarded() && body.is_object() && body.contains("error") &&
      body["error"].is_object()) {
    detail += " " + body["error"].value("code", std::string()) + ": " +
              body["error"].value("message", std::string());
  }
  const std::string message = what + ": " + detail;
  switch (res->status) {
    case 400:
      return InvalidArgument(message);
    case 401:
      return Unauthenticated(message);
    case 403:
      return PermissionDenied(message);
    case 404:
      return NotFound(message);
    case 413:
      return ResourceExhausted(message);
    default:
      return Unavailable(message);
  }
}

Result<nlohmann::json> ParseBody(const std::string& what, const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded()) return DataLoss(what + ": the server's answer is not JSON");
  return json;
}

}  // namespace

Result<ServerConfig> ResolveServer(const ServerFlags& flags) {
  ServerConfig config;
  config.url = flags.server;
  if (config.url.empty()) {
    if (const char* env = std::getenv("EDGEFARM_SERVER")) config.url = env;
  }
  if (config.url.empty() && !flags.data_dir.empty()) {
    EF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(flags.data_dir / "endpoints.json"));
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("http") ||
        !json["http"].is_string()) {
      return InvalidArgument((flags.data_dir / "endpoints.json").string() + " has no \"http\"");
    }
    config.url = json["http"].get<std::string>();
  }
  if (config.url.empty()) {
    return InvalidArgument("no server: pass --server URL or set EDGEFARM_SERVER");
  }
  if (const char* env = std::getenv("EDGEFARM_TOKEN"); env != nullptr && *env != '\0') {
    config.token = Trim(env);
  } else if (!flags.token_file.empty()) {
    EF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(flags.token_file));
    config.token = Trim(text);
  } else if (!flags.data_dir.empty()) {
    EF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(flags.data_dir / "admin.token"));
    config.token = Trim(text);
  }
  if (config.token.empty()) {
    return InvalidArgument("no token: set EDGEFARM_TOKEN or pass --token-file FILE");
  }
  return config;
}

ApiClient::ApiClient(ServerConfig config)
    : config_(std::move(config)), client_(std::make_unique<httplib::Client>(config_.url)) {
  client_->set_bearer_token_auth(config_.token.c_str());
  client_->set_connection_timeout(10, 0);
  client_->set_read_timeout(120, 0);
  client_->set_write_timeout(300, 0);
}

ApiClient::~ApiClient() = default;

Result<nlohmann::json> ApiClient::Get(const std::string& path) {
  if (!client_->is_valid()) return InvalidArgument("invalid server URL '" + config_.url + "'");
  try {
    auto res = client_->Get(path);
    if (!res || res->status != 200) return ErrorFrom("GET " + path, res);
    return ParseBody("GET " + path, res->body);
  } catch (const std::exception& e) {
    return Unavailable("GET " + path + ": " + e.what());
  }
}

Result<nlohmann::json> ApiClient::Post(const std::string& path, const nlohmann::json& body) {
  if (!client_->is_valid()) return InvalidArgument("invalid server URL '" + config_.url + "'");
  try {
    auto res = client_->Post(path, body.dump(), "application/json");
    if (!res || (res->status != 200 && res->status != 201)) return ErrorFrom("POST " + path, res);
    return ParseBody("POST " + path, res->body);
  } catch (const std::exception& e) {
    return Unavailable("POST " + path + ": " + e.what());
  }
}

Result<std::string> ApiClient::PutBlob(const fs::path& file) {
  if (!client_->is_valid()) return InvalidArgument("invalid server URL '" + config_.url + "'");
  EF_ASSIGN_OR_RETURN(std::string digest, Sha256File(file));
  std::error_code ec;
  const uint64_t size = fs::file_size(file, ec);
  if (ec) return IoError("cannot stat " + file.string() + ": " + ec.message());
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (!*in) return IoError("cannot read " + file.string());
  const std::string path = "/api/v1/blobs/" + digest;
  try {
    auto res = client_->Put(
        path, size,
        [in](size_t offset, size_t length, httplib::DataSink& sink) {
          std::vector<char> buffer(std::min<size_t>(length, 256 * 1024));
          in->seekg(static_cast<std::streamoff>(offset));
          in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
          const auto got = in->gcount();
          return got > 0 && sink.write(buffer.data(), static_cast<size_t>(got));
        },
        "application/octet-stream");
    if (!res || (res->status != 200 && res->status != 201)) {
      return ErrorFrom("PUT " + file.filename().string(), res);
    }
  } catch (const std::exception& e) {
    return Unavailable("PUT " + path + ": " + e.what());
  }
  return digest;
}

Result<LogPiece> ApiClient::GetLog(const std::string& job_id, uint64_t offset) {
  if (!client_->is_valid()) return InvalidArgument("invalid server URL '" + config_.url + "'");
  const std::string path = "/api/v1/jobs/" + job_id + "/log?offset=" + std::to_string(offset);
  try {
    auto res = client_->Get(path);
    if (!res || res->status != 200) return ErrorFrom("GET " + path, res);
    LogPiece piece;
    piece.data = res->body;
    piece.complete = res->get_header_value("X-Edgefarm-Log-Complete") == "true";
    return piece;
  } catch (const std::exception& e) {
    return Unavailable("GET " + path + ": " + e.what());
  }
}

}  // namespace edgefarm::cli
