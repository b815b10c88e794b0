// Scheduler-side helpers of JobSlotControl: submitting a one-job run for a slot or router, looking
// a job up, adopting an unfinished run left by a crash between submission and record, cancelling,
// choosing ports and keeping the router's admin token file. Internal to
// edgefarm_coordinator_slots.
//
// Every scheduler access goes through deps.with_scheduler (the coordinator's lock), so callers
// must not hold it. Thread-safety: as the caller's. Failure: Status values.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edgefarm/coordinator/job_slot_control.h"
#include "edgefarm/coordinator/records.h"

namespace edgefarm::coordinator {

// What JobSlotControl needs to know about a slot job, copied out under the lock.
struct SlotJobView {
  bool found = false;
  JobState state = JobState::kQueued;
  uint32_t attempt = 0;  // the latest attempt's number: a new one is a new process
  std::string reason;    // the latest attempt's outcome and reason, for messages
};

struct SlotJobIds {
  std::string run_id;
  std::string job_id;
};

struct SlotJobSpec {
  std::string run_name;  // "env/<environment>/<slot|router>"
  std::string job_name;  // "serve-blue", "router", ...
  std::vector<std::string> argv;
  std::vector<InputRef> inputs;
  Tags tags;
  int timeout_seconds = 0;
};

Result<SlotJobIds> SubmitSlotJob(const JobSlotDeps& deps, const SlotJobSpec& spec);
SlotJobView LookUpSlotJob(const JobSlotDeps& deps, const std::string& job_id);
// The unfinished job of a run named run_name whose argv holds "--port <port>", if any; every
// other unfinished run of that name is cancelled (it was orphaned by a crash and is not wanted).
std::optional<SlotJobIds> AdoptSlotJob(const JobSlotDeps& deps, const std::string& run_name,
                                       int port);
// Cancels the job; Ok for an unknown or finished one.
Status CancelSlotJob(const JobSlotDeps& deps, const std::string& job_id);

// A port by deps' policy that is not in `in_use`. ResourceExhausted when the range is full.
Result<int> PickSlotPort(const JobSlotDeps& deps, const std::set<int>& in_use);

// Reads DATA's router token file for the environment, creating it (0600, O_EXCL, fsynced) with a
// new random token when absent. *created tells whether it was made now.
Result<std::string> EnsureRouterToken(const std::filesystem::path& path, bool* created);

}  // namespace edgefarm::coordinator
