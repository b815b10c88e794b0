// `edgefarm coordinator`: flag parsing, logging set-up and signal handling around Coordinator.
//
//   edgefarm coordinator --data DIR [--listen tcp://HOST:PORT] [--http HOST:PORT]
//                        [--native-target T] [--public-url URL] [--log-level info]
//                        [--repos FILE] [--heartbeat D] [--lease-ttl D] [--accept-window D]
//                        [--missed-heartbeats N] [--timeout-grace D]
//                        [--unschedulable-deadline D] [--restart-grace D]
//
// D is a duration (500ms, 30s, 10m, 2h) setting the SchedulerOptions field of the same name
// (docs/scheduling.md); --heartbeat-ms N and --lease-ttl-ms N are the older millisecond forms.
//
// Logs go to stderr (this entry point owns the sinks). Runs until SIGINT or SIGTERM; returns the
// process exit code (0 after a clean stop, 2 for bad flags, 1 when start-up fails).
#pragma once

namespace edgefarm::coordinator {

int RunCoordinatorCommand(int argc, char** argv);

}  // namespace edgefarm::coordinator
