// Repository registrations. Secrets read from files are trimmed of trailing whitespace (files
// written by editors end in a newline); nothing read here is ever put into a message.
#include "edgefarm/coordinator/repo_registry.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return name.find("..") == std::string::npos;
}

Status ReadString(const json& body, const char* key, std::string* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgument(std::string(key) + " must be a string");
  *out = it->get<std::string>();
  if (out->size() > 4096) return InvalidArgument(std::string(key) + " is too long");
  return Status::Ok();
}

Result<std::string> ReadSecret(const std::string& inline_value, const std::string& env,
                               const std::string& file, const char* what) {
  if (!inline_value.empty()) return inline_value;
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr || *value == '\0') {
      return NotFound(std::string(what) + ": environment variable " + env + " is not set");
    }
    return std::string(value);
  }
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return NotFound(std::string(what) + ": cannot read " + file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string value = buffer.str();
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
      value.pop_back();
    }
    return value;
  }
  return std::string();
}

}  // namespace

bool IsSafeRepoPath(const std::string& path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  std::stringstream segments(path);
  std::string segment;
  while (std::getline(segments, segment, '/')) {
    if (segment.empty() || segment == "." || segment == "..") return false;
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  return path.back() != '/';
}

Result<RepoRecord> RepoFromJson(const json& body) {
  if (!body.is_object()) return InvalidArgument("repository must be a JSON object");
  RepoRecord repo;
  for (auto [key, out] : std::initializer_list<std::pair<const char*, std::string*>>{
           {"name", &repo.name},
           {"url", &repo.url},
           {"pipeline_file", &repo.pipeline_file},
           {"webhook_secret", &repo.webhook_secret},
           {"webhook_secret_env", &repo.webhook_secret_env},
           {"webhook_secret_file", &repo.webhook_secret_file},
           {"credential_env", &repo.credential_env},
           {"credential_file", &repo.credential_file}}) {
    EF_RETURN_IF_ERROR(ReadString(body, key, out));
  }
  if (!ValidName(repo.name)) {
    return InvalidArgument("name must be 1-64 characters of [A-Za-z0-9._-], not starting with '.'");
  }
  if (repo.url.empty()) return InvalidArgument("url is required");
  if (!IsSafeRepoPath(repo.pipeline_file)) {
    return InvalidArgument("pipeline_file must be a relative path inside the repository");
  }
  if (body.contains("branches")) {
    const json& branches = body["branches"];
    if (!branches.is_array()) return InvalidArgument("branches must be an array of globs");
    for (const auto& b : branches) {
      if (!b.is_string() || b.get<std::string>().empty()) {
        return InvalidArgument("branches must be an array of non-empty strings");
      }
      repo.branches.push_back(b.get<std::string>());
    }
  }
  if (body.contains("poll_interval_s")) {
    const json& interval = body["poll_interval_s"];
    if (!interval.is_number_integer() || interval.get<int64_t>() < 0 ||
        interval.get<int64_t>() > 86400) {
      return InvalidArgument("poll_interval_s must be an integer from 0 (no polling) to 86400");
    }
    repo.poll_interval_s = interval.get<int64_t>();
  }
  return repo;
}

json RepoToJson(const RepoRecord& repo) {
  return {{"name", repo.name},
          {"url", RedactUrl(repo.url)},
          {"branches", repo.branches},
          {"pipeline_file", repo.pipeline_file},
          {"webhook_secret_set", !repo.webhook_secret.empty() || !repo.webhook_secret_env.empty() ||
                                     !repo.webhook_secret_file.empty()},
          {"webhook_secret_env", repo.webhook_secret_env},
          {"webhook_secret_file", repo.webhook_secret_file},
          {"credential_env", repo.credential_env},
          {"credential_file", repo.credential_file},
          {"poll_interval_s", repo.poll_interval_s},
          {"created_at_ms", repo.created_at_ms}};
}

Result<std::vector<RepoRecord>> LoadRepoConfig(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return NotFound("cannot read repositories file " + file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  json config = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object() || !config.contains("repositories") ||
      !config["repositories"].is_array()) {
    return InvalidArgument(file.string() + ": expected {\"repositories\": [...]}");
  }
  std::vector<RepoRecord> repos;
  for (const auto& entry : config["repositories"]) {
    auto repo = RepoFromJson(entry);
    if (!repo.ok()) return repo.status().WithContext(file.string());
    repos.push_back(std::move(repo).value());
  }
  return repos;
}

Result<std::string> ResolveWebhookSecret(const RepoRecord& repo) {
  return ReadSecret(repo.webhook_secret, repo.webhook_secret_env, repo.webhook_secret_file,
                    "webhook secret");
}

Result<GitCredentials> ResolveCredentials(const RepoRecord& repo) {
  EF_ASSIGN_OR_RETURN(std::string userpass,
                      ReadSecret("", repo.credential_env, repo.credential_file, "credentials"));
  return GitCredentials{userpass};
}

}  // namespace edgefarm::coordinator
