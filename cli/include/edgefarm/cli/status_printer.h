// User-facing progress output, kept apart from the logic that decides what happened (like
// ninja's status.h): RunProgress works out which jobs changed; a StatusPrinter only renders.
//
// Thread-safety: single-threaded use.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace edgefarm::cli {

// One job as the progress display sees it (from the API's job JSON).
struct JobView {
  std::string id;
  std::string name;
  std::string state;
  std::string worker;
  std::string reason;  // latest attempt's failure reason, if any
  int attempts = 0;
  std::vector<std::string> missing_tags;  // for unschedulable jobs
};

class StatusPrinter {
 public:
  virtual ~StatusPrinter() = default;
  // A free-form progress line ("coordinator listening on ...").
  virtual void Message(std::string_view line) = 0;
  // A job moved to a new state; `done` of `total` jobs have finished.
  virtual void JobChanged(const JobView& job, size_t done, size_t total) = 0;
  // A block of pre-formatted text (the matrix table).
  virtual void Block(std::string_view text) = 0;
};

// Plain lines to a stream: "[2/5] llama_cpp/intel-x86  running  on worker-1".
class ConsoleStatusPrinter final : public StatusPrinter {
 public:
  explicit ConsoleStatusPrinter(std::ostream& out) : out_(out) {}
  void Message(std::string_view line) override;
  void JobChanged(const JobView& job, size_t done, size_t total) override;
  void Block(std::string_view text) override;

 private:
  std::ostream& out_;
};

// Feeds successive snapshots of a run (GET /api/v1/runs/{id}) and reports each job whose state
// changed since the previous snapshot to the printer.
class RunProgress {
 public:
  explicit RunProgress(StatusPrinter& printer) : printer_(printer) {}
  // `worker_names` maps worker ids to names for display; ids without a name are shown as is.
  void Update(const nlohmann::json& run,
              const std::map<std::string, std::string>& worker_names = {});

 private:
  StatusPrinter& printer_;
  std::map<std::string, std::string> last_state_;  // job id -> state
};

// Run states after which nothing changes any more.
bool IsFinalRunState(std::string_view state);
JobView ToJobView(const nlohmann::json& job);
// Worker id -> name from GET /api/v1/workers JSON.
std::map<std::string, std::string> WorkerNames(const nlohmann::json& workers_reply);

}  // namespace edgefarm::cli
