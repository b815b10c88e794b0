// Registered repositories: validation of a registration, its public JSON (secrets redacted) and
// the resolution of secrets kept in the environment or in files.
//
// Pure functions apart from ResolveWebhookSecret/ResolveCredentials, which read the environment
// and files; all thread-safe. Failure messages name the variable or file but never its contents.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/control_store.h"
#include "edgefarm/coordinator/git2_repo.h"

namespace edgefarm::coordinator {

// A registration body or one entry of a repositories config file:
// {"name","url","branches":[],"pipeline_file","webhook_secret"|"webhook_secret_env"|
//  "webhook_secret_file","credential_env"|"credential_file","poll_interval_s"}.
Result<RepoRecord> RepoFromJson(const nlohmann::json& body);

// The public view: everything but secrets; "webhook_secret_set" says whether one is configured.
nlohmann::json RepoToJson(const RepoRecord& repo);

// Reads a repositories config file: {"repositories":[{...}, ...]}.
Result<std::vector<RepoRecord>> LoadRepoConfig(const std::filesystem::path& file);

Result<std::string> ResolveWebhookSecret(const RepoRecord& repo);
Result<GitCredentials> ResolveCredentials(const RepoRecord& repo);

// A relative path inside a repository: no "..", no leading '/', no empty or "." segments, no
// backslashes or control characters.
bool IsSafeRepoPath(const std::string& path);

}  // namespace edgefarm::coordinator
