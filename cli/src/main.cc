// The `edgefarm` command: dispatch only; every verb lives in a library.
#include <iostream>
#include <string>

#include "edgefarm/cli/admin_commands.h"
#include "edgefarm/cli/client_commands.h"
#include "edgefarm/cli/promotion_commands.h"
#include "edgefarm/cli/up_command.h"
#include "edgefarm/coordinator/coordinator_main.h"
#include "edgefarm/worker/worker_main.h"

namespace {

constexpr const char* kUsage =
    "usage: edgefarm <command> [args]\n"
    "  up          run an embedded farm (coordinator + workers) on a pipeline\n"
    "  coordinator run the coordinator\n"
    "  worker      run a worker\n"
    "  run FILE    submit a pipeline run       status [RUN]   show runs or one run\n"
    "  workers     list workers                logs JOB       print a job's log\n"
    "  token create --role R [--name N]        repos [list|add|trigger]\n"
    "  cancel RUN|JOB  stop a run or one job   drain WORKER   finish current jobs, take no more\n"
    "  approve|reject RUN [--comment C]        rollback ENV [--reason R]   continue ENV\n"
    "  history ENV [--json]                    environments [--json]\n"
    "See docs/cli.md.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string verb = argv[1];
  if (verb == "coordinator")
    return edgefarm::coordinator::RunCoordinatorCommand(argc - 1, argv + 1);
  if (verb == "worker") return edgefarm::worker::RunWorkerCommand(argc - 1, argv + 1);
  if (verb == "up") return edgefarm::cli::RunUpCommand(argc - 1, argv + 1, std::cout, std::cerr);
  if (verb == "run" || verb == "status" || verb == "workers" || verb == "logs" ||
      verb == "cancel") {
    return edgefarm::cli::RunClientCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (verb == "token" || verb == "repos" || verb == "drain") {
    return edgefarm::cli::RunAdminCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (verb == "approve" || verb == "reject" || verb == "rollback" || verb == "continue" ||
      verb == "history" || verb == "environments") {
    return edgefarm::cli::RunPromotionCommand(argc - 1, argv + 1, std::cout, std::cerr);
  }
  if (verb == "--help" || verb == "-h" || verb == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "edgefarm: unknown command '" << verb << "'\n" << kUsage;
  return 2;
}
