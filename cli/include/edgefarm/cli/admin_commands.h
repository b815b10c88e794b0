// Administration verbs of `edgefarm` over the coordinator's HTTP API:
//
//   edgefarm token create --role R [--name N] [--json]   prints the new token once, on stdout
//   edgefarm token list [--json]
//   edgefarm repos [list] [--json]
//   edgefarm repos add NAME URL [--branch GLOB]... [--pipeline-file F] [--poll SECONDS]
//                               [--secret-file F] [--credential-env VAR | --credential-file F]
//   edgefarm repos trigger NAME [--ref REF] [--commit SHA] [--force]
//   edgefarm drain WORKER [--json]        WORKER: a worker id or a unique worker name
//
// each also taking [--server URL] [--token-file F] [--data DIR] (see ResolveServer). The webhook
// secret is read from a file by the CLI (never from the command line, where `ps` would show it)
// and sent once; credentials are named (environment variable or file on the coordinator's host),
// never sent. Exit codes as in client_commands.h. Thread-safety: each call is independent.
#pragma once

#include <ostream>

namespace edgefarm::cli {

// Dispatches "token", "repos" or "drain"; argv[0] is the verb.
int RunAdminCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace edgefarm::cli
