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

bool TokenSet::Check(const std::string& token, const std::vector<std::string>& roles) const {
  if (token.empty()) return false;
  const std::string hash = Sha256Hex(token);
  bool found = false;
  for (const auto& role : roles) {
    auto it = hashes_.find(role);
    if (it == hashes_.end()) continue;
    for (const auto& known : it->second) found |= ConstantTimeEquals(hash, known);
  }
  return found;
}

bool TokenSet::Has(const std::string& role, const std::string& sha256) const {
  auto it = hashes_.find(role);
  return it != hashes_.end() && it->second.count(sha256) > 0;
}

}  // namespace edgefarm::coordinator
