// RunCoordinatorCommand: flags -> CoordinatorOptions, stderr logger, block SIGINT/SIGTERM in every
// thread and wait for them with sigwait on the calling thread, then stop cleanly.
#include "edgefarm/coordinator/coordinator_main.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include "edgefarm/coordinator/coordinator.h"

namespace edgefarm::coordinator {
namespace {

constexpr const char* kUsage =
    "usage: edgefarm coordinator --data DIR [--listen tcp://HOST:PORT] [--http HOST:PORT]\n"
    "                            [--native-target T] [--public-url URL] [--heartbeat-ms N]\n"
    "                            [--lease-ttl-ms N] [--log-level LEVEL] [--repos FILE]\n";

std::optional<int> ParseInt(const std::string& text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoi(text);
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
    } else if (flag == "--heartbeat-ms" || flag == "--lease-ttl-ms") {
      auto ms = ParseInt(value);
      if (!ms || *ms == 0) return flag + " wants a positive integer";
      (flag == "--heartbeat-ms" ? options.scheduler.heartbeat_interval
                                : options.scheduler.lease_ttl) = std::chrono::milliseconds(*ms);
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
