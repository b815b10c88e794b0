// RunCoordinatorCommand: flags -> CoordinatorOptions, stderr logger, block SIGINT/SIGTERM in every
// thread and wait for them with sigwait on the calling thread, then stop cleanly.
#include "edgefarm/coordinator/coordinator_main.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "edgefarm/coordinator/coordinator.h"
#include "edgefarm/coordinator/promotion_service.h"

namespace edgefarm::coordinator {
namespace {

constexpr const char* kUsage =
    "usage: edgefarm coordinator --data DIR [--listen tcp://HOST:PORT] [--http HOST:PORT]\n"
    "                            [--native-target T] [--public-url URL] [--log-level LEVEL]\n"
    "                            [--repos FILE] [--heartbeat D] [--lease-ttl D]\n"
    "                            [--accept-window D] [--missed-heartbeats N] [--timeout-grace D]\n"
    "                            [--unschedulable-deadline D] [--restart-grace D]\n"
    "                            [--max-queued-per-repo N] [--resource-group-queue N]\n"
    "                            [--scale-down-delay D]\n"
    "  --scale-down-delay: how long a promotion keeps the old slot warm after the switch (1m)\n"
    "  D is a duration: 500ms, 30s, 10m, 2h (0 turns --unschedulable-deadline off)\n";

std::optional<int> ParseInt(const std::string& text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoi(text);
}

// "500ms", "30s", "10m", "2h", or "0". Bounded to a week so the milliseconds cannot overflow.
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  const size_t digits = text.find_first_not_of("0123456789");
  if (text == "0") return std::chrono::milliseconds(0);
  if (digits == 0 || digits == std::string::npos || digits > 9) return std::nullopt;
  const int64_t n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  int64_t ms = 0;
  if (unit == "ms") {
    ms = n;
  } else if (unit == "s") {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60'000;
  } else if (unit == "h") {
    ms = n * 3'600'000;
  } else {
    return std::nullopt;
  }
  if (ms > int64_t{7} * 24 * 3'600'000) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

// The SchedulerOptions durations settable by flag. The *-ms forms predate the duration syntax.
using DurationField = std::chrono::milliseconds SchedulerOptions::*;
const std::map<std::string, DurationField>& DurationFlags() {
  static const std::map<std::string, DurationField> flags = {
      {"--heartbeat", &SchedulerOptions::heartbeat_interval},
      {"--lease-ttl", &SchedulerOptions::lease_ttl},
      {"--accept-window", &SchedulerOptions::accept_window},
      {"--timeout-grace", &SchedulerOptions::timeout_grace},
      {"--unschedulable-deadline", &SchedulerOptions::unschedulable_deadline},
      {"--restart-grace", &SchedulerOptions::restart_grace},
  };
  return flags;
}

// Sets one scheduler flag; returns an error message, or empty on success.
std::string SetSchedulerFlag(const std::string& flag, const std::string& value,
                             SchedulerOptions& scheduler) {
  if (flag == "--heartbeat-ms" || flag == "--lease-ttl-ms") {
    auto ms = ParseInt(value);
    if (!ms || *ms == 0) return flag + " wants a positive integer";
    (flag == "--heartbeat-ms" ? scheduler.heartbeat_interval : scheduler.lease_ttl) =
        std::chrono::milliseconds(*ms);
    return "";
  }
  if (flag == "--max-queued-per-repo" || flag == "--resource-group-queue") {
    auto n = ParseInt(value);  // admission limit (0: none) / jobs waiting per resource group
    if (!n) return flag + " wants a non-negative integer";
    if (flag == "--max-queued-per-repo") {
      scheduler.max_queued_per_repo = *n;
    } else {
      scheduler.resource_group_queue = static_cast<size_t>(*n);
    }
    return "";
  }
  if (flag == "--missed-heartbeats") {
    auto n = ParseInt(value);
    if (!n || *n < 1 || *n > 1000) return flag + " wants a number from 1 to 1000";
    scheduler.missed_heartbeats = *n;
    return "";
  }
  auto field = DurationFlags().at(flag);
  auto duration = ParseDuration(value);
  if (!duration)
    return flag + " wants a duration such as 500ms, 30s, 10m or 2h, got '" + value + "'";
  if (duration->count() == 0 && flag != "--unschedulable-deadline") {
    return flag + " must be greater than zero";
  }
  scheduler.*field = *duration;
  return "";
}

bool IsSchedulerFlag(const std::string& flag) {
  return flag == "--heartbeat-ms" || flag == "--lease-ttl-ms" || flag == "--missed-heartbeats" ||
         flag == "--max-queued-per-repo" || flag == "--resource-group-queue" ||
         DurationFlags().count(flag) > 0;
}

// Returns an error message, or empty on success.
std::string ParseFlags(int argc, char** argv, CoordinatorOptions& options, std::string& level) {
  for (int i = 0; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "coordinator" && i == 0) continue;
    if (i + 1 >= argc) return "flag " + flag + " needs a value";
    std::string value = argv[++i];
    if (flag == "--data") {
      options.data_dir = value;
    } else if (flag == "--listen") {
      options.zmq_listen = value;
    } else if (flag == "--http") {
      auto colon = value.rfind(':');
      auto port = colon == std::string::npos ? std::nullopt : ParseInt(value.substr(colon + 1));
      if (!port || *port > 65535) return "--http wants HOST:PORT, got '" + value + "'";
      options.http_host = value.substr(0, colon);
      options.http_port = *port;
    } else if (flag == "--native-target") {
      options.native_target = value;
    } else if (flag == "--repos") {
      options.repos_file = value;
    } else if (flag == "--public-url") {
      options.public_http_url = value;
    } else if (flag == "--scale-down-delay") {
      auto delay = ParseDuration(value);
      if (!delay) return flag + " wants a duration such as 30s or 10m, got '" + value + "'";
      const int64_t ms = delay->count();
      options.promotion_setup = [ms](PromotionServiceOptions& o) { o.scale_down_delay_ms = ms; };
    } else if (IsSchedulerFlag(flag)) {
      std::string error = SetSchedulerFlag(flag, value, options.scheduler);
      if (!error.empty()) return error;
    } else if (flag == "--log-level") {
      level = value;
    } else {
      return "unknown flag " + flag;
    }
  }
  if (options.data_dir.empty()) return "--data DIR is required";
  return "";
}

}  // namespace

int RunCoordinatorCommand(int argc, char** argv) {
  CoordinatorOptions options;
  std::string level = "info";
  // argv[0] is the program or the verb; flags follow.
  std::string error = ParseFlags(argc - 1, argv + 1, options, level);
  if (!error.empty()) {
    std::cerr << "edgefarm coordinator: " << error << "\n" << kUsage;
    return 2;
  }
  // Not registered globally: a second call in one process must not collide with the first.
  auto logger = std::make_shared<spdlog::logger>(
      "coordinator", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::level::from_str(level));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before any thread starts, so every thread inherits the mask and sigwait sees them.
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);

  Coordinator coordinator(options, &SystemClock::Instance(), logger);
  Status started = coordinator.Start();
  if (!started.ok()) {
    logger->error("cannot start: {}", started.ToString());
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  logger->info("received signal {}, stopping", signal);
  coordinator.Stop();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return 0;
}

}  // namespace edgefarm::coordinator
