// Webhook signature checks (OpenSSL HMAC) and payload parsing (nlohmann, no exceptions).
#include "edgefarm/coordinator/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "edgefarm/common/sha256.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

std::string StringAt(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string EventOf(Provider provider, const HeaderFn& header) {
  switch (provider) {
    case Provider::kGitHub:
      return header("X-GitHub-Event");
    case Provider::kGitea:
      return !header("X-Gitea-Event").empty() ? header("X-Gitea-Event") : header("X-GitHub-Event");
    case Provider::kGitLab: {
      std::string e = header("X-Gitlab-Event");
      return e == "Push Hook" ? "push" : e;
    }
  }
  return "";
}

std::string DeliveryIdOf(Provider provider, const HeaderFn& header) {
  switch (provider) {
    case Provider::kGitHub:
      return header("X-GitHub-Delivery");
    case Provider::kGitea:
      return header("X-Gitea-Delivery");
    case Provider::kGitLab:
      return !header("X-Gitlab-Event-UUID").empty() ? header("X-Gitlab-Event-UUID")
                                                    : header("Idempotency-Key");
  }
  return "";
}

}  // namespace

std::string ProviderName(Provider provider) {
  switch (provider) {
    case Provider::kGitHub:
      return "github";
    case Provider::kGitLab:
      return "gitlab";
    case Provider::kGitea:
      return "gitea";
  }
  return "github";
}

std::optional<Provider> ParseProvider(const std::string& name) {
  for (Provider p : {Provider::kGitHub, Provider::kGitLab, Provider::kGitea}) {
    if (ProviderName(p) == name) return p;
  }
  return std::nullopt;
}

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

bool VerifyDelivery(Provider provider, const HeaderFn& header, const std::string& body,
                    const std::string& secret) {
  if (secret.empty()) return false;
  switch (provider) {
    case Provider::kGitHub: {
      const std::string expected = "sha256=" + HmacSha256Hex(secret, body);
      return ConstantTimeEquals(Lower(header("X-Hub-Signature-256")), expected);
    }
    case Provider::kGitea: {
      std::string given = header("X-Gitea-Signature");
      if (given.empty()) given = header("X-Hub-Signature-256");
      if (given.rfind("sha256=", 0) == 0) given = given.substr(7);
      return ConstantTimeEquals(Lower(given), HmacSha256Hex(secret, body));
    }
    case Provider::kGitLab:
      // Compare hashes so the comparison's length never depends on the secret's.
      return ConstantTimeEquals(Sha256Hex(header("X-Gitlab-Token")), Sha256Hex(secret));
  }
  return false;
}

Result<Delivery> ParseDelivery(Provider provider, const HeaderFn& header, const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("body is not a JSON object");
  Delivery d;
  d.event = EventOf(provider, header);
  d.delivery_id = DeliveryIdOf(provider, header);
  if (d.delivery_id.empty() || d.delivery_id.size() > 200) d.delivery_id = Sha256Hex(body);
  for (const char* container : {"repository", "project"}) {
    auto it = j.find(container);
    if (it == j.end() || !it->is_object()) continue;
    for (const char* key : {"full_name", "path_with_namespace", "clone_url", "ssh_url", "html_url",
                            "git_http_url", "git_ssh_url", "web_url", "url"}) {
      std::string value = StringAt(*it, key);
      if (!value.empty()) d.repo_names.push_back(value);
    }
  }
  if (d.event != "push") return d;
  d.ref = StringAt(j, "ref");
  d.before = StringAt(j, "before");
  d.after = StringAt(j, "after");
  if (d.ref.empty() || d.after.empty()) return InvalidArgument("push without ref or after");
  return d;
}

Result<std::string> BranchOfRef(const std::string& ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  if (ref.size() <= kHeads.size() || ref.size() > 255 ||
      ref.compare(0, kHeads.size(), kHeads) != 0) {
    return InvalidArgument("not a branch ref");
  }
  std::string branch = ref.substr(kHeads.size());
  bool bad = branch.find("..") != std::string::npos || branch.find("@{") != std::string::npos ||
             branch.find("//") != std::string::npos || branch.front() == '/' ||
             branch.back() == '/' || branch.back() == '.' || branch.front() == '-' ||
             (branch.size() >= 5 && branch.compare(branch.size() - 5, 5, ".lock") == 0);
  for (unsigned char c : branch) {
    bad |= c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
           c == '*' || c == '[' || c == '\\';
  }
  if (bad) return InvalidArgument("invalid branch name in ref");
  return branch;
}

}  // namespace edgefarm::coordinator
