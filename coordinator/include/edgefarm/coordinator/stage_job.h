// Staging for the recommended cell: the coordinator's ed25519 signing key and the stage job
// record (`edgefarm.stage/v1`, docs/serving.md) that a worker matching the target runs with
// `edgefarm-engine stage-check JOB.json --out DIR`.
//
// Secrets: the secret key lives only in DATA/signing.key (mode 0600, created exclusively); it is
// never logged or put in a job record or error message. Thread-safety: EnsureSigningKey touches
// the file system, call it from one thread; StageJobJson is pure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "edgefarm/common/status.h"
#include "edgefarm/pipelines/pipeline.h"
#include "edgefarm/serving/signing.h"

namespace edgefarm::coordinator {

// Security limit used when the pipeline sets none (security.max_bytes 0): 1 TiB, because the
// stage checks require a positive limit.
inline constexpr uint64_t kNoSizeLimitBytes = uint64_t{1} << 40;

// Reads DATA/signing.key (the secret key, hex), creating it with a fresh key pair (mode 0600)
// when absent. IoError for an unreadable or unwritable file; DataLoss for a damaged key; and
// PermissionDenied when the existing file is readable by group or others.
Result<serving::SigningKeyPair> EnsureSigningKey(const std::filesystem::path& data_dir);

struct StageRequest {
  std::string artifact_digest;  // sha256 of the artifact (the model the cell produced)
  std::string model_path;       // where the worker will find it; the worker's "inputs" win
  pipelines::StagingSpec spec;
};

// The stage job JSON with the digest signed by `key`. Sections the pipeline leaves out are run
// with small defaults (integration 3 requests; load 2 clients × 20 requests), so every stage
// records all three checks. InvalidArgument for a malformed digest or key.
Result<std::string> StageJobJson(const StageRequest& request, const serving::SigningKeyPair& key);

}  // namespace edgefarm::coordinator
