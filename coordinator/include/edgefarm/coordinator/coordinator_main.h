// `edgefarm coordinator`: flag parsing, logging set-up and signal handling around Coordinator.
//
//   edgefarm coordinator --data DIR [--listen tcp://HOST:PORT] [--http HOST:PORT]
//                        [--native-target T] [--public-url URL] [--heartbeat-ms N]
//                        [--lease-ttl-ms N] [--log-level info]
//
// Logs go to stderr (this entry point owns the sinks). Runs until SIGINT or SIGTERM; returns the
// process exit code (0 after a clean stop, 2 for bad flags, 1 when start-up fails).
#pragma once

namespace edgefarm::coordinator {

int RunCoordinatorCommand(int argc, char** argv);

}  // namespace edgefarm::coordinator
