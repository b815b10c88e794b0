// From a run submission (pipeline YAML plus the digests of the repository files it reads) to a
// PlannedRun the scheduler can store. The only coordinator file that drives the pipelines library.
//
// Failure: InvalidArgument with "FILE:LINE:COL: ..." for a pipeline that does not load or expand
// (code "invalid_pipeline" in the API), NotFound for a referenced file missing from the files map
// or the blob store (code "missing_file"). Thread-safety: stateless; safe from any thread.
#pragma once

#include <map>
#include <string>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

struct RunRequest {
  std::string pipeline_file = ".edgefarm.yml";
  std::string pipeline_yaml;
  std::map<std::string, std::string> files;  // repository path -> sha256
};

Result<PlannedRun> PlanRun(const RunRequest& request, const BlobStore& blobs,
                           const std::string& native_target);

}  // namespace edgefarm::coordinator
