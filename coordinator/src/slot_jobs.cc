// Scheduler-side helpers of JobSlotControl (slot_jobs.h). A slot job is an ordinary one-job run,
// so everything here uses the scheduler's public operations (SubmitRun, FindJob, Runs, JobsOf,
// CancelJob) under the coordinator's lock; nothing in the scheduler knows about slots.
#include "slot_jobs.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "random_hex.h"

namespace edgefarm::coordinator {
namespace fs = std::filesystem;
namespace {

bool HasPort(const JobRecord& job, int port) {
  const std::string wanted = std::to_string(port);
  for (size_t i = 0; i + 1 < job.argv.size(); ++i) {
    if (job.argv[i] == "--port" && job.argv[i + 1] == wanted) return true;
  }
  return false;
}

// A port the OS reports free on the loopback interface now (it may be taken again before the
// job binds it; SlotReady then re-submits with another port).
Result<int> OsFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) return IoError(std::string("cannot find a free port: ") + std::strerror(saved));
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace

Result<SlotJobIds> SubmitSlotJob(const JobSlotDeps& deps, const SlotJobSpec& spec) {
  PlannedRun run;
  run.name = spec.run_name;
  run.pipeline_file = "(promotion slot)";
  run.priority = 100;  // a slot serves production traffic: first in line for a free worker
  JobRecord job;
  job.name = spec.job_name;
  job.is_engine = false;
  job.required_tags = spec.tags;
  job.argv = spec.argv;
  job.inputs = spec.inputs;
  job.timeout_seconds = spec.timeout_seconds;
  job.retry_infra = 2;  // a lost worker's slot restarts elsewhere with the same flags
  job.retry_job = 0;
  run.jobs.push_back(std::move(job));
  Result<SlotJobIds> out = Internal("scheduler not called");
  deps.with_scheduler([&](Scheduler& scheduler) {
    auto run_id = scheduler.SubmitRun(std::move(run));
    if (!run_id.ok()) {
      out = run_id.status();
      return;
    }
    const auto jobs = scheduler.JobsOf(*run_id);
    if (jobs.empty()) {
      out = Internal("run " + *run_id + " was stored without its job");
      return;
    }
    out = SlotJobIds{*run_id, jobs.front()->id};
  });
  return out;
}

SlotJobView LookUpSlotJob(const JobSlotDeps& deps, const std::string& job_id) {
  SlotJobView view;
  if (job_id.empty()) return view;
  deps.with_scheduler([&](Scheduler& scheduler) {
    const JobRecord* job = scheduler.FindJob(job_id);
    if (job == nullptr) return;
    view.found = true;
    view.state = job->state;
    view.attempt = job->attempt;
    const auto attempts = scheduler.AttemptsOf(job_id);
    if (!attempts.empty() && !attempts.back()->outcome.empty()) {
      view.reason = attempts.back()->outcome + ": " + attempts.back()->reason;
    }
  });
  return view;
}

std::optional<SlotJobIds> AdoptSlotJob(const JobSlotDeps& deps, const std::string& run_name,
                                       int port) {
  std::optional<SlotJobIds> adopted;
  std::vector<std::string> orphans;
  deps.with_scheduler([&](Scheduler& scheduler) {
    for (const RunRecord* run : scheduler.Runs()) {
      if (run->name != run_name) continue;
      for (const JobRecord* job : scheduler.JobsOf(run->id)) {
        if (IsTerminal(job->state)) continue;
        if (!adopted && HasPort(*job, port)) {
          adopted = SlotJobIds{run->id, job->id};
        } else {
          orphans.push_back(job->id);
        }
      }
    }
    for (const auto& id : orphans) (void)scheduler.CancelJob(id);
  });
  return adopted;
}

Status CancelSlotJob(const JobSlotDeps& deps, const std::string& job_id) {
  if (job_id.empty()) return Status::Ok();
  Status status;
  deps.with_scheduler([&](Scheduler& scheduler) { status = scheduler.CancelJob(job_id); });
  return status.code() == StatusCode::kNotFound ? Status::Ok() : status;
}

Result<int> PickSlotPort(const JobSlotDeps& deps, const std::set<int>& in_use) {
  if (deps.port_first > 0) {
    for (int port = deps.port_first; port <= deps.port_last; ++port) {
      if (!in_use.count(port)) return port;
    }
    return ResourceExhausted("every slot port in " + std::to_string(deps.port_first) + "-" +
                             std::to_string(deps.port_last) + " is held by a slot record");
  }
  for (int tries = 0; tries < 8; ++tries) {
    EF_ASSIGN_OR_RETURN(int port, OsFreePort());
    if (!in_use.count(port)) return port;
  }
  return ResourceExhausted("the OS kept offering ports held by slot records");
}

Result<std::string> EnsureRouterToken(const fs::path& path, bool* created) {
  *created = false;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if ((fs::status(path, ec).permissions() & (fs::perms::group_all | fs::perms::others_all)) !=
        fs::perms::none) {
      return PermissionDenied(path.string() + " is readable by others; expected mode 0600");
    }
    std::ifstream in(path);
    std::string token;
    std::getline(in, token);
    if (token.size() < 32) return DataLoss(path.string() + " does not hold a token");
    return token;
  }
  const std::string token = RandomHex(32);
  fs::path temp = path;
  temp += ".tmp";
  ::unlink(temp.c_str());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create " + temp.string() + ": " + std::strerror(errno));
  const std::string content = token + "\n";
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    return IoError("write " + path.string() + ": " + std::strerror(errno));
  }
  *created = true;
  return token;
}

}  // namespace edgefarm::coordinator
