// Token files: created with O_EXCL and mode 0600 from the start (never chmod'ed after the secret is
// written), fsynced, then renamed into place so a crash never leaves a truncated token.
#include "edgefarm/coordinator/tokens.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "edgefarm/common/sha256.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace fs = std::filesystem;
namespace {

Status WriteSecretFile(const fs::path& path, const std::string& secret) {
  fs::path temp = path;
  temp += ".tmp";
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create " + temp.string() + ": " + std::strerror(errno));
  std::string content = secret + "\n";
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    return IoError("write " + path.string() + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::string> ReadOrCreate(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    std::string secret = RandomHex(32);
    EF_RETURN_IF_ERROR(WriteSecretFile(path, secret));
    return secret;
  }
  std::ifstream in(path);
  std::string secret;
  std::getline(in, secret);
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.size() < 32) return DataLoss(path.string() + " does not hold a token");
  return secret;
}

}  // namespace

Result<TokenFiles> EnsureTokenFiles(const fs::path& data_dir) {
  EF_ASSIGN_OR_RETURN(std::string admin, ReadOrCreate(data_dir / "admin.token"));
  EF_ASSIGN_OR_RETURN(std::string worker, ReadOrCreate(data_dir / "worker.token"));
  return TokenFiles{Sha256Hex(admin), Sha256Hex(worker)};
}

std::string TokenId(const std::string& sha256) {
  return sha256.substr(0, 12);
}

std::string NewTokenSecret() {
  return RandomHex(32);
}

void TokenSet::Add(const std::string& role, const std::string& sha256, const std::string& name) {
  auto parsed = ParseRole(role);
  if (!parsed) return;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.sha256 == sha256) return;
  }
  entries_.push_back({sha256, {*parsed, TokenId(sha256), name.empty() ? role + ".token" : name}});
}

std::optional<TokenIdentity> TokenSet::Identify(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  const std::string hash = Sha256Hex(token);
  std::optional<TokenIdentity> found;
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (ConstantTimeEquals(hash, e.sha256)) found = e.identity;
  }
  return found;
}

bool TokenSet::Check(const std::string& token, const std::vector<std::string>& roles) const {
  auto who = Identify(token);
  if (!who) return false;
  for (const auto& role : roles) {
    if (ToString(who->role) == role) return true;
  }
  return false;
}

bool TokenSet::Has(const std::string& role, const std::string& sha256) const {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.sha256 == sha256 && ToString(e.identity.role) == role) return true;
  }
  return false;
}

}  // namespace edgefarm::coordinator
