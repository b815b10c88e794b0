// Webhook deliveries from GitHub, GitLab and Gitea: signature checks and payload parsing.
//
// GitHub signs the raw body with HMAC-SHA256 (X-Hub-Signature-256: sha256=<hex>), Gitea the
// same without the prefix (X-Gitea-Signature), GitLab sends the shared secret itself
// (X-Gitlab-Token). Every comparison is constant-time. Pure functions; thread-safe. Nothing here
// logs; callers log outcomes without the secret or the signature.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

enum class Provider { kGitHub, kGitLab, kGitea };

std::string ProviderName(Provider provider);
std::optional<Provider> ParseProvider(const std::string& name);

// Header lookup (case-insensitive, "" when absent).
using HeaderFn = std::function<std::string(const std::string&)>;

// Lower-case hex HMAC-SHA256 of data under key.
std::string HmacSha256Hex(const std::string& key, const std::string& data);

// True when the delivery carries a valid signature (or token) for secret. An empty secret never
// verifies: a repository without a secret cannot be triggered by webhooks.
bool VerifyDelivery(Provider provider, const HeaderFn& header, const std::string& body,
                    const std::string& secret);

struct Delivery {
  std::string event;        // "push", "ping" or the provider's other event name
  std::string delivery_id;  // the provider's id, or the body's sha256 when it sends none
  std::string ref;          // "refs/heads/main"
  std::string before;
  std::string after;
  // Names the payload gives the repository (full_name, clone/ssh/html URLs), for matching.
  std::vector<std::string> repo_names;
};

// Parses a delivery. InvalidArgument for a body that is not a JSON object or a push without
// ref/after strings.
Result<Delivery> ParseDelivery(Provider provider, const HeaderFn& header, const std::string& body);

// Branch name of a push ref ("refs/heads/x" -> "x"); InvalidArgument for other refs and for
// names git itself refuses ("..", control characters, "@{", a trailing ".lock" or "/", ...).
Result<std::string> BranchOfRef(const std::string& ref);

}  // namespace edgefarm::coordinator
