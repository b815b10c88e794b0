// `edgefarm worker`: parse flags, detect hardware, wire session + agent + executor, wait for a
// signal. Logging is configured here (stderr) and nowhere in the library.
//
// Signals: SIGTERM and SIGINT are blocked in every thread and taken synchronously with sigwait in
// the main thread, so the stop sequence runs in ordinary code, not in a signal handler. Children
// get a clean signal mask from the process runner.
#include "edgefarm/worker/worker_main.h"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "edgefarm/worker/hardware_detector.h"
#include "edgefarm/worker/input_cache.h"
#include "edgefarm/worker/job_executor.h"
#include "edgefarm/worker/worker_agent.h"
#include "edgefarm/worker/zmq_session.h"

#ifndef EDGEFARM_VERSION
#define EDGEFARM_VERSION "0.0.0"
#endif

namespace edgefarm::worker {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage =
    "usage: edgefarm worker --coordinator tcp://HOST:PORT [--label k=v]... [--slots N]\n"
    "                       [--name NAME] [--cache DIR] [--token-file F] [--engine PATH]\n"
    "                       [--exit-when-drained] [--print-tags]\n";

// How long a stopping worker waits for the coordinator to acknowledge the results it hands back.
constexpr auto kAcknowledgementWait = std::chrono::seconds(5);

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

Result<std::string> ReadToken(const WorkerFlags& flags) {
  if (!flags.token_file.empty()) {
    std::ifstream in(flags.token_file);
    if (!in) return NotFound("cannot read token file " + flags.token_file.string());
    std::stringstream text;
    text << in.rdbuf();
    return Trim(text.str());
  }
  if (const char* env = std::getenv("EDGEFARM_WORKER_TOKEN")) return Trim(env);
  return std::string();
}

// A stable id per cache directory, so a restarted worker is recognised as the same worker.
Result<std::string> LoadOrCreateWorkerId(const fs::path& cache_dir) {
  const fs::path file = cache_dir / "worker.id";
  std::ifstream in(file);
  std::string id;
  if (in && std::getline(in, id) && !Trim(id).empty()) return Trim(id);
  std::random_device rd;
  std::ostringstream hex;
  for (int i = 0; i < 4; ++i) hex << std::hex << rd();
  id = "w-" + hex.str();
  std::ofstream out(file);
  out << id << "\n";
  if (!out) return IoError("cannot write " + file.string());
  return id;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "worker";
  return buf;
}

fs::path DefaultCacheDir(const std::string& name) {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) return fs::path(xdg) / "edgefarm" / name;
  if (const char* home = std::getenv("HOME")) return fs::path(home) / ".cache/edgefarm" / name;
  return fs::temp_directory_path() / ("edgefarm-" + name);
}

}  // namespace

Result<WorkerFlags> ParseWorkerFlags(int argc, char** argv) {
  WorkerFlags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return InvalidArgument(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--print-tags") {
      flags.print_tags = true;
      continue;
    }
    if (arg == "--exit-when-drained") {
      flags.exit_when_drained = true;
      continue;
    }
    if (arg != "--coordinator" && arg != "--label" && arg != "--slots" && arg != "--name" &&
        arg != "--cache" && arg != "--token-file" && arg != "--engine") {
      return InvalidArgument("unknown argument '" + arg + "'");
    }
    EF_ASSIGN_OR_RETURN(std::string v, value());
    if (arg == "--coordinator") flags.coordinator = v;
    if (arg == "--label") flags.labels.push_back(v);
    if (arg == "--name") flags.name = v;
    if (arg == "--cache") flags.cache_dir = v;
    if (arg == "--token-file") flags.token_file = v;
    if (arg == "--engine") flags.engine = v;
    if (arg == "--slots") {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 1 || n > 1024) {
        return InvalidArgument("--slots must be a number from 1 to 1024");
      }
      flags.slots = static_cast<unsigned>(n);
    }
  }
  if (flags.coordinator.empty() && !flags.print_tags)
    return InvalidArgument("--coordinator is required");
  if (flags.name.empty()) flags.name = HostName();
  if (flags.cache_dir.empty()) flags.cache_dir = DefaultCacheDir(flags.name);
  if (flags.engine.empty()) flags.engine = DefaultEnginePath();
  return flags;
}

fs::path DefaultEnginePath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path sibling = self.parent_path().parent_path() / "engine" / "edgefarm-engine";
    if (fs::is_regular_file(sibling, ec)) return sibling;
  }
  return "edgefarm-engine";
}

namespace {

// Returns on SIGTERM/SIGINT, or (with --exit-when-drained) once the agent is drained. The drained
// state is looked at between short signal waits: it changes on the session thread, which cannot
// interrupt sigwait.
void WaitForStop(const WorkerFlags& flags, const WorkerAgent& agent, const sigset_t& stop_signals,
                 spdlog::logger& logger) {
  if (!flags.exit_when_drained) {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    logger.info("signal {} received; stopping", sig);
    return;
  }
  while (true) {
    const timespec tick{0, 100'000'000};
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig > 0) {
      logger.info("signal {} received; stopping", sig);
      return;
    }
    if (agent.drained()) {
      logger.info("drained: no jobs left and every result acknowledged; exiting");
      return;
    }
  }
}

int Serve(const WorkerFlags& flags, const Tags& tags, const std::string& token,
          const std::shared_ptr<spdlog::logger>& logger, const sigset_t& stop_signals) {
  std::error_code ec;
  fs::create_directories(flags.cache_dir, ec);
  auto worker_id = LoadOrCreateWorkerId(flags.cache_dir);
  if (!worker_id.ok()) {
    logger->error("{}", worker_id.status().ToString());
    return 1;
  }
  auto runner = MakeProcessRunner();
  InputCache cache(flags.cache_dir / "blobs", logger);
  ExecutorOptions exec_options;
  exec_options.scratch_root = flags.cache_dir / "scratch";
  exec_options.engine_path = flags.engine;
  JobExecutor executor(exec_options, *runner, cache, logger);
  WorkerAgent agent(AgentOptions{flags.slots, token}, executor, logger);

  SessionOptions options;
  options.endpoint = flags.coordinator;
  options.registration.set_worker_id(*worker_id);
  options.registration.set_name(flags.name);
  for (const auto& [k, v] : tags) (*options.registration.mutable_tags())[k] = v;
  options.registration.set_slots(flags.slots);
  options.registration.set_agent_version(EDGEFARM_VERSION);
  options.registration.set_enrol_token(token);
  ZmqSession session(options, agent, SystemClock::Instance(), logger);
  agent.AttachSession(&session);
  if (Status started = session.Start(); !started.ok()) {
    logger->error("{}", started.ToString());
    return 1;
  }
  logger->info("worker {} ({}) up: {} slot(s), engine {}, cache {}", flags.name, *worker_id,
               flags.slots, flags.engine.string(), flags.cache_dir.string());
  WaitForStop(flags, agent, stop_signals, *logger);
  agent.Shutdown();
  if (!agent.WaitForAcknowledgements(kAcknowledgementWait)) {
    logger->warn("{} result(s) not acknowledged by the coordinator; stopping anyway",
                 agent.unacknowledged_results());
  }
  session.Stop(true);
  return 0;
}

}  // namespace

int RunWorkerCommand(int argc, char** argv) {
  auto flags = ParseWorkerFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "edgefarm worker: " << flags.status().message() << "\n" << kUsage;
    return 2;
  }
  auto labels = ParseLabels(flags->labels);
  if (!labels.ok()) {
    std::cerr << "edgefarm worker: " << labels.status().message() << "\n";
    return 2;
  }
  Tags tags = DetectHardware();
  for (const auto& [k, v] : *labels) tags[k] = v;
  if (flags->print_tags) {
    for (const auto& [k, v] : tags) std::cout << k << "=" << v << "\n";
    std::cout << "native_target=" << NativeTarget(tags) << "\n";
    return 0;
  }
  auto token = ReadToken(*flags);
  if (!token.ok()) {
    std::cerr << "edgefarm worker: " << token.status().message() << "\n";
    return 2;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  auto logger = spdlog::stderr_color_mt("worker:" + flags->name);
  logger->set_pattern("%H:%M:%S.%e %n %l: %v");
  return Serve(*flags, tags, *token, logger, stop_signals);
}

}  // namespace edgefarm::worker
