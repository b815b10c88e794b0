// Signing key file and stage job record. The key file is created with O_EXCL and mode 0600 in
// one call, so there is no window in which it exists with wider permissions.
#include "edgefarm/coordinator/stage_job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edgefarm/common/sha256.h"

namespace edgefarm::coordinator {
namespace fs = std::filesystem;
namespace {

Status WriteSecret(const fs::path& path, const std::string& secret) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create " + path.string() + ": " + std::strerror(errno));
  const std::string line = secret + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  return ok ? Status::Ok() : IoError("write " + path.string());
}

}  // namespace

Result<serving::SigningKeyPair> EnsureSigningKey(const fs::path& data_dir) {
  const fs::path path = data_dir / "signing.key";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    EF_ASSIGN_OR_RETURN(serving::SigningKeyPair pair, serving::GenerateSigningKey());
    EF_RETURN_IF_ERROR(WriteSecret(path, pair.secret_key_hex));
    return pair;
  }
  if ((st.st_mode & 077) != 0) {
    return PermissionDenied(path.string() + " is readable by others; expected mode 0600");
  }
  std::ifstream in(path);
  std::string secret;
  if (!(in >> secret)) return IoError("read " + path.string());
  auto public_key = serving::PublicKeyFromSecret(secret);
  if (!public_key.ok()) return DataLoss(path.string() + " does not hold a valid signing key");
  return serving::SigningKeyPair{*public_key, secret};
}

Result<std::string> StageJobJson(const StageRequest& request, const serving::SigningKeyPair& key) {
  if (!IsValidSha256Hex(request.artifact_digest)) {
    return InvalidArgument("artifact digest is not a sha256");
  }
  EF_ASSIGN_OR_RETURN(std::string signature,
                      serving::SignDigest(key.secret_key_hex, request.artifact_digest));
  const auto& spec = request.spec;
  nlohmann::json integration = {{"requests", spec.integration ? spec.integration->requests : 3}};
  nlohmann::json load = {{"concurrency", 2}, {"requests", 20}};
  if (spec.load) {
    load = {{"concurrency", spec.load->concurrency},
            {"duration_s", spec.load->duration_seconds},
            {"max_error_rate", spec.load->max_error_rate},
            {"max_p95_ms", spec.load->max_p95_ms}};
  }
  const uint64_t max_bytes =
      spec.security && spec.security->max_bytes > 0 ? spec.security->max_bytes : kNoSizeLimitBytes;
  nlohmann::json job = {{"schema", "edgefarm.stage/v1"},
                        {"model", request.model_path},
                        {"expected_digest", request.artifact_digest},
                        {"signature", signature},
                        {"public_key", key.public_key_hex},
                        {"integration", integration},
                        {"load", load},
                        {"security", {{"max_bytes", max_bytes}}}};
  return job.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace edgefarm::coordinator
