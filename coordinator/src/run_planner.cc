// PlanRun: load, check referenced files, expand, resolve each job's inputs to digests.
#include "edgefarm/coordinator/run_planner.h"

#include "edgefarm/pipelines/expand.h"
#include "edgefarm/pipelines/pipeline_loader.h"

namespace edgefarm::coordinator {
namespace {

Status CheckFile(const RunRequest& request, const BlobStore& blobs, const std::string& path) {
  auto digest = request.files.find(path);
  if (digest == request.files.end()) {
    return NotFound("the pipeline reads '" + path + "' but the run's files do not include it");
  }
  if (!IsValidSha256Hex(digest->second)) {
    return NotFound("file '" + path + "' has a malformed sha256");
  }
  if (!blobs.Contains(digest->second)) {
    return NotFound("file '" + path + "' (sha256 " + digest->second +
                    ") is not in the blob store; upload it first");
  }
  return Status::Ok();
}

Result<JobRecord> ToJob(const pipelines::JobTemplate& t, const RunRequest& request,
                        const BlobStore& blobs) {
  JobRecord job;
  job.name = t.name;
  job.is_engine = t.kind == pipelines::JobTemplate::Kind::kEngine;
  job.framework = t.framework;
  job.target = t.target;
  job.required_tags = t.required_tags;
  job.needs = t.needs;
  job.engine_job_json = t.engine_job_json;
  job.argv = t.argv;
  job.env = t.env;
  job.timeout_seconds = t.timeout_seconds;
  job.retry_infra = t.retry_infra;
  job.retry_job = t.retry_job;
  job.resource_group = t.resource_group;
  for (const auto& [role, path] : t.inputs) {
    EF_RETURN_IF_ERROR(CheckFile(request, blobs, path));
    const std::string& digest = request.files.at(path);
    EF_ASSIGN_OR_RETURN(uint64_t size, blobs.Size(digest));
    job.inputs.push_back({role, digest, size});
  }
  return job;
}

}  // namespace

Result<PlannedRun> PlanRun(const RunRequest& request, const BlobStore& blobs,
                           const std::string& native_target) {
  EF_ASSIGN_OR_RETURN(pipelines::Pipeline pipeline,
                      pipelines::LoadPipeline(request.pipeline_yaml, request.pipeline_file));
  for (const auto& path : pipelines::ReferencedFiles(pipeline)) {
    EF_RETURN_IF_ERROR(CheckFile(request, blobs, path));
  }
  pipelines::ExpandOptions options;
  options.native_target = native_target;
  EF_ASSIGN_OR_RETURN(auto templates, pipelines::ExpandPipeline(pipeline, options));
  PlannedRun run;
  run.name = pipeline.name.empty() ? request.pipeline_file : pipeline.name;
  run.pipeline_file = request.pipeline_file;
  run.pipeline_yaml = request.pipeline_yaml;
  run.files = request.files;
  run.priority = pipeline.priority;
  run.max_running = pipeline.concurrency;
  for (const auto& t : templates) {
    EF_ASSIGN_OR_RETURN(JobRecord job, ToJob(t, request, blobs));
    run.jobs.push_back(std::move(job));
  }
  return run;
}

}  // namespace edgefarm::coordinator
