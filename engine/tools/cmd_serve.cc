// edgefarm-engine serve MODEL --port P [--host H] [--threads T] [--engine-threads E]
//   [--fault-error-rate R] [--fault-latency-ms L] [--fault-seed S] [--ready-file F]
// Serves until SIGINT or SIGTERM. With --ready-file the bound port is written there (atomically)
// once the server accepts connections, so a parent can start it on port 0 and wait for the file.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/serving/inference_server.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

struct ServeFlags {
  serving::ServerOptions server = serving::DefaultServerOptions();
  std::string ready_file;
};

// Returns false (after printing the offending argument) on a bad flag.
bool ParseServeFlags(int argc, char** argv, ServeFlags* f) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has = i + 1 < argc;
    long v = 0;
    bool ok = has;
    if (a == "--port" && has) {
      ok = ParseInt(argv[++i], 0, 65535, &v);
      f->server.port = static_cast<int>(v);
    } else if (a == "--host" && has) {
      f->server.host = argv[++i];
    } else if (a == "--threads" && has) {
      ok = ParseInt(argv[++i], 1, 256, &v);
      f->server.http_threads = static_cast<int>(v);
    } else if (a == "--engine-threads" && has) {
      ok = ParseInt(argv[++i], 1, 256, &v);
      f->server.engine_threads = static_cast<int>(v);
    } else if (a == "--fault-error-rate" && has) {
      ok = ParseNumber(argv[++i], 0, 1, &f->server.fault.error_rate);
    } else if (a == "--fault-latency-ms" && has) {
      ok = ParseInt(argv[++i], 0, 600000, &v);
      f->server.fault.latency_ms = static_cast<int>(v);
    } else if (a == "--fault-seed" && has) {
      ok = ParseInt(argv[++i], 0, 1L << 62, &v);
      f->server.fault.seed = static_cast<uint64_t>(v);
    } else if (a == "--ready-file" && has) {
      f->ready_file = argv[++i];
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "serve: bad or incomplete argument '%s'\n", argv[i]);
      return false;
    }
  }
  return true;
}

}  // namespace

int RunServe(int argc, char** argv) {
  ServeFlags flags;
  if (argc < 2 || !ParseServeFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: serve MODEL --port P [--host 127.0.0.1] [--threads T] "
                 "[--engine-threads E] [--fault-error-rate R] [--fault-latency-ms L] "
                 "[--fault-seed S] [--ready-file F]\n");
    return 2;
  }
  auto log = spdlog::stderr_color_mt("serve");
  // Block the stop signals before any thread starts so every thread inherits the mask and only
  // sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto server = serving::InferenceServer::Load(argv[1], flags.server, log);
  if (!server.ok()) {
    log->error("{}", server.status().ToString());
    return 1;
  }
  if (Status s = (*server)->Start(); !s.ok()) {
    log->error("{}", s.ToString());
    return 1;
  }
  if (!flags.ready_file.empty()) {
    if (Status s = serving::WriteFileAtomically(flags.ready_file,
                                                std::to_string((*server)->port()) + "\n");
        !s.ok()) {
      log->error("{}", s.ToString());
      return 1;
    }
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log->info("signal {}: stopping", signal_number);
  (*server)->Stop();
  return 0;
}

}  // namespace edgefarm::engine::tools
