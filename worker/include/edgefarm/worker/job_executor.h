// Runs one assigned job attempt end to end and produces its JobResult.
//
// Engine cells: fetch inputs by digest (InputCache), write JOB.json (EngineTask.job_json plus an
// "inputs" object mapping each input's role to its cached path), run
// `ENGINE run JOB.json --out DIR`, read DIR/result.json into result_json and upload every file
// under DIR as an artifact named by its path relative to DIR. Command steps: run argv with env in
// a scratch directory where each input is a symlink named after its role.
//
// Outcomes: exit 0 -> SUCCEEDED; other exit or signal -> FAILED; timeout -> TIMED_OUT; cancel ->
// CANCELLED (message kCancelledBeforeStart when it came before the process started: then nothing
// runs); anything that kept the job from running or its outputs from reaching the coordinator
// (fetch, spawn, upload) -> INFRA_ERROR. Output is streamed as LogChunks numbered
// from 0 with byte offsets, in the order it was read.
//
// Thread-safety: Execute may run concurrently for different jobs (one scratch dir per attempt).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "edgefarm/v1/farm.pb.h"
#include "edgefarm/worker/blob_client.h"
#include "edgefarm/worker/input_cache.h"
#include "edgefarm/worker/process_runner.h"

namespace spdlog {
class logger;
}

namespace edgefarm::worker {

// The message of a CANCELLED result whose job was cancelled before its process was started
// (before or while its inputs were fetched).
inline constexpr char kCancelledBeforeStart[] = "cancelled before the job started";

struct ExecutorOptions {
  std::filesystem::path scratch_root;  // one directory per attempt is made under it
  std::filesystem::path engine_path = "edgefarm-engine";
  std::chrono::milliseconds kill_grace{5000};
  bool keep_scratch = false;  // leave attempt directories behind (debugging)
};

using LogSender = std::function<void(v1::LogChunk chunk)>;

class JobExecutor {
 public:
  // runner and cache must outlive the executor.
  JobExecutor(ExecutorOptions options, ProcessRunner& runner, InputCache& cache,
              std::shared_ptr<spdlog::logger> logger);

  // Runs the attempt on the calling thread. Never fails as a call: every problem becomes the
  // result's outcome and message. `send_log` is called on this thread.
  v1::JobResult Execute(const v1::Assign& assign, const BlobEndpoint& blobs,
                        const LogSender& send_log, const CancelFlag& cancel);

 private:
  class Attempt;

  ExecutorOptions options_;
  ProcessRunner& runner_;
  InputCache& cache_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace edgefarm::worker
