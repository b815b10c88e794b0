// Following a run's promotions from the CLI (`edgefarm up`): wait for staging, make the
// release-manager token of the embedded farm, print phase changes, and feed the router a little
// synthetic traffic while a promotion is analysed, since a demo farm has no users.
//
// Implementation notes:
// - The token file is created with O_EXCL and mode 0600 before the token is asked for, so a
//   second `up` on the same data dir reuses it, and the secret never reaches a log or the screen.
// - Traffic goes only to the loopback router URL the API reports (serving::RunLoad refuses
//   anything else), a few requests per poll.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "edgefarm/cli/promotion_commands.h"
#include "edgefarm/serving/load_generator.h"

namespace edgefarm::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr auto kPoll = std::chrono::milliseconds(250);

std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool StillStaging(const json& promotion) {
  if (Str(promotion, "state") != "evaluated") return true;
  const json targets = promotion.value("targets", json::object());
  for (const auto& [target, entry] : targets.items()) {
    const std::string status = Str(entry, "status");
    if (status == "staging" || status == "waiting_for_environment") return true;
  }
  return false;
}

bool IsTerminalPhase(const std::string& phase) {
  return phase == "succeeded" || phase == "rolled_back" || phase == "rejected";
}

// One promotion state per target that has one.
std::vector<json> Promotions(const json& promotion) {
  std::vector<json> out;
  const json targets = promotion.value("targets", json::object());
  for (const auto& [target, entry] : targets.items()) {
    if (entry.contains("promotion") && entry["promotion"].is_object()) {
      out.push_back(entry["promotion"]);
    }
  }
  return out;
}

// Completions through the environment's router, so the ramp's analysis has requests: 100 per
// poll (a few tens of ms on a small model) give a 10 % step of a 2 s hold about 60 candidate
// requests, above the analysis's default minimum of 20.
void SyntheticTraffic(ApiClient& client, const std::string& environment) {
  auto envs = client.Get("/api/v1/environments");
  if (!envs.ok()) return;
  for (const auto& env : envs->value("environments", json::array())) {
    if (Str(env, "name") != environment || Str(env, "router_url").empty()) continue;
    serving::LoadOptions load;
    load.url = Str(env, "router_url");
    load.body = R"({"prompt":"Once upon a time","max_tokens":4,"temperature":0})";
    load.concurrency = 2;
    load.requests = 100;
    load.request_timeout = std::chrono::seconds(10);
    (void)serving::RunLoad(load);  // errors are the analysis's to judge, not ours
  }
}

}  // namespace

bool AwaitsApproval(const json& promotion) {
  for (const auto& p : Promotions(promotion)) {
    if (Str(p, "phase") == "awaiting_approval") return true;
  }
  return false;
}

Result<json> WaitForStaging(ApiClient& client, const std::string& run_id, const Pause& pause) {
  int transient = 0;
  while (true) {
    auto reply = client.Get("/api/v1/runs/" + run_id + "/promotion");
    if (reply.ok() && !StillStaging(*reply)) return reply;
    if (!reply.ok() && ++transient > 40) return reply.status();
    if (!pause(kPoll)) return Cancelled("interrupted");
  }
}

Result<fs::path> EnsureReleaseManagerToken(ApiClient& admin, const fs::path& data_dir) {
  const fs::path path = data_dir / "release-manager.token";
  if (fs::exists(path)) return path;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return IoError("cannot create " + path.string());
  auto reply =
      admin.Post("/api/v1/tokens", {{"role", "release-manager"}, {"name", "release-manager-up"}});
  std::string token = reply.ok() ? Str(*reply, "token") : "";
  const std::string line = token + "\n";
  const bool written =
      !token.empty() && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!written) {
    std::error_code ec;
    fs::remove(path, ec);
    return reply.ok() ? IoError("cannot write " + path.string()) : reply.status();
  }
  return path;
}

Result<json> FollowPromotions(ApiClient& client, const std::string& run_id, StatusPrinter& printer,
                              const Pause& pause) {
  std::map<std::string, std::string> last;  // promotion id -> last printed line
  int transient = 0;
  while (true) {
    auto reply = client.Get("/api/v1/runs/" + run_id + "/promotion");
    if (!reply.ok()) {
      if (++transient > 40) return reply.status();
      if (!pause(kPoll)) return Cancelled("interrupted");
      continue;
    }
    bool active = false;
    for (const auto& p : Promotions(*reply)) {
      const std::string line = FormatPromotionLine(p);
      std::string& seen = last[Str(p, "id")];
      if (line != seen) printer.Message(line);
      seen = line;
      const std::string phase = Str(p, "phase");
      if (IsTerminalPhase(phase)) continue;
      active = true;
      if (phase == "ramping" || phase == "pre_analysis" || phase == "scale_down") {
        SyntheticTraffic(client, Str(p, "environment"));
      }
    }
    if (!active) return reply;
    if (!pause(kPoll)) return Cancelled("interrupted");
  }
}

}  // namespace edgefarm::cli
