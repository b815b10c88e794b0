// edgefarm-engine route --port P [--host H] [--blue URL] [--green URL] [--live blue|green]
//   [--weight W] [--window-s S] [--threads T] [--admin-token-file F] [--ready-file F]
// Runs a blue/green traffic router until SIGINT or SIGTERM. The admin token is read from a file
// (never from argv, which other users can see); without it the routing is fixed at start.
// With --ready-file the bound port is written there atomically once the router accepts.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "commands.h"
#include "edgefarm/serving/inference_server.h"
#include "edgefarm/serving/traffic_router.h"
#include "flags.h"

namespace edgefarm::engine::tools {
namespace {

struct RouteFlags {
  serving::RouterOptions router = serving::DefaultRouterOptions();
  std::string blue, green, live = "blue", token_file, ready_file;
  int weight = 0;
};

bool ParseRouteFlags(int argc, char** argv, RouteFlags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    double v = 0;
    bool ok = i + 1 < argc;
    if (ok && a == "--port" && (ok = ParseNumber(argv[++i], 0, 65535, &v))) {
      f->router.port = static_cast<int>(v);
    } else if (ok && a == "--threads" && (ok = ParseNumber(argv[++i], 1, 1024, &v))) {
      f->router.http_threads = static_cast<int>(v);
    } else if (ok && a == "--window-s" && (ok = ParseNumber(argv[++i], 1, 86400, &v))) {
      f->router.window = std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
    } else if (ok && a == "--weight" && (ok = ParseNumber(argv[++i], 0, 100, &v))) {
      f->weight = static_cast<int>(v);
    } else if (ok && (a == "--host" || a == "--blue" || a == "--green" || a == "--live" ||
                      a == "--admin-token-file" || a == "--ready-file")) {
      const std::string value = argv[++i];
      if (a == "--host") f->router.host = value;
      if (a == "--blue") f->blue = value;
      if (a == "--green") f->green = value;
      if (a == "--live") f->live = value;
      if (a == "--admin-token-file") f->token_file = value;
      if (a == "--ready-file") f->ready_file = value;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "route: bad or incomplete argument '%s'\n", argv[i]);
      return false;
    }
  }
  return true;
}

// The token file's first line, without surrounding whitespace.
Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) return NotFound("cannot read the admin token file");
  const auto first = token.find_first_not_of(" \t\r");
  const auto last = token.find_last_not_of(" \t\r");
  if (first == std::string::npos) return InvalidArgument("the admin token file is empty");
  return token.substr(first, last - first + 1);
}

Status Configure(const RouteFlags& f, serving::TrafficRouter& router) {
  EF_ASSIGN_OR_RETURN(serving::Slot live, serving::ParseSlot(f.live));
  EF_RETURN_IF_ERROR(router.SetUpstream(serving::Slot::kBlue, f.blue));
  EF_RETURN_IF_ERROR(router.SetUpstream(serving::Slot::kGreen, f.green));
  return router.SetRouting(live, f.weight);
}

}  // namespace

int RunRoute(int argc, char** argv) {
  RouteFlags f;
  if (!ParseRouteFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: route --port P [--host H] [--blue URL] [--green URL] [--live blue|green] "
                 "[--weight W] [--window-s S] [--threads T] [--admin-token-file F] "
                 "[--ready-file F]\n");
    return 2;
  }
  auto log = spdlog::stderr_color_mt("route");
  if (!f.token_file.empty()) {
    auto token = ReadToken(f.token_file);
    if (!token.ok()) {
      log->error("{}", token.status().ToString());
      return 2;
    }
    f.router.admin_token = *token;
  }
  sigset_t stop_signals;  // blocked before any thread starts; only sigwait() receives them
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto router = serving::TrafficRouter::Create(f.router, log);
  Status s = router.ok() ? Configure(f, **router) : router.status();
  if (s.ok()) s = (*router)->Start();
  if (s.ok() && !f.ready_file.empty()) {
    s = serving::WriteFileAtomically(f.ready_file, std::to_string((*router)->port()) + "\n");
  }
  if (!s.ok()) {
    log->error("{}", s.ToString());
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log->info("signal {}: stopping", signal_number);
  (*router)->Stop();
  return 0;
}

}  // namespace edgefarm::engine::tools
