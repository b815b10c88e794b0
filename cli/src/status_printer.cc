// Progress rendering and change detection for a watched run.
#include "edgefarm/cli/status_printer.h"

#include <iomanip>
#include <sstream>

namespace edgefarm::cli {

bool IsFinalRunState(std::string_view state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

bool IsFinalJobState(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "cancelled" || s == "skipped";
}

}  // namespace

JobView ToJobView(const nlohmann::json& job) {
  JobView view;
  view.id = Str(job, "id");
  view.name = Str(job, "name");
  view.state = Str(job, "state");
  view.worker = Str(job, "worker");
  if (auto it = job.find("attempts"); it != job.end() && it->is_array() && !it->empty()) {
    view.attempts = static_cast<int>(it->size());
    const nlohmann::json& last = it->back();
    view.reason = Str(last, "reason");
    if (view.worker.empty()) view.worker = Str(last, "worker");
  }
  if (auto it = job.find("missing_tags"); it != job.end() && it->is_array()) {
    for (const auto& tag : *it) {
      if (tag.is_string()) view.missing_tags.push_back(tag.get<std::string>());
    }
  }
  return view;
}

std::map<std::string, std::string> WorkerNames(const nlohmann::json& workers_reply) {
  std::map<std::string, std::string> names;
  auto workers = workers_reply.find("workers");
  if (workers == workers_reply.end() || !workers->is_array()) return names;
  for (const auto& w : *workers) {
    const std::string id = Str(w, "id"), name = Str(w, "name");
    if (!id.empty() && !name.empty()) names[id] = name;
  }
  return names;
}

void RunProgress::Update(const nlohmann::json& run,
                         const std::map<std::string, std::string>& worker_names) {
  auto jobs = run.find("jobs");
  if (jobs == run.end() || !jobs->is_array()) return;
  size_t done = 0;
  for (const auto& job : *jobs) done += IsFinalJobState(Str(job, "state")) ? 1 : 0;
  for (const auto& job : *jobs) {
    JobView view = ToJobView(job);
    if (auto name = worker_names.find(view.worker); name != worker_names.end()) {
      view.worker = name->second;
    }
    auto& last = last_state_[view.id];
    if (last == view.state) continue;
    last = view.state;
    printer_.JobChanged(view, done, jobs->size());
  }
}

void ConsoleStatusPrinter::Message(std::string_view line) {
  out_ << line << "\n" << std::flush;
}

void ConsoleStatusPrinter::JobChanged(const JobView& job, size_t done, size_t total) {
  std::ostringstream line;
  line << "[" << done << "/" << total << "] " << std::left << std::setw(24) << job.name << " "
       << std::setw(13) << job.state;
  if (!job.worker.empty() && job.state != "queued" && job.state != "waiting") {
    line << " on " << job.worker;
  }
  if (job.attempts > 1) line << " (attempt " << job.attempts << ")";
  if (job.state == "unschedulable" && !job.missing_tags.empty()) {
    line << " no worker offers";
    for (const auto& tag : job.missing_tags) line << " " << tag;
  }
  if ((job.state == "failed" || job.state == "queued") && !job.reason.empty()) {
    line << ": " << job.reason;
  }
  std::string text = line.str();
  while (!text.empty() && text.back() == ' ') text.pop_back();
  out_ << text << "\n" << std::flush;
}

void ConsoleStatusPrinter::Block(std::string_view text) {
  out_ << text << std::flush;
}

}  // namespace edgefarm::cli
