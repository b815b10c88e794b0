// The worker side of edgefarm-bench-scheduler: W worker peers, each a real ZeroMQ DEALER over TCP
// loopback that registers, accepts every Assign and reports it succeeded at once (a no-op job).
// They run in a forked child process, driven by line commands over a pipe (scheduler_bench.cc).
#pragma once

#include <cstdint>
#include <string>
#include <zmq.hpp>

namespace edgefarm::bench {

struct PeerOptions {
  int workers = 200;
  int slots = 4;
  int threads = 2;  // each polls workers/threads sockets
};

// Reads the endpoint and worker token from cmd_fd, starts the peers and answers the commands
// "reset", "report", "latency on|off" and "quit" (see the bench's header comment). Returns when
// told to quit or when cmd_fd closes.
int RunPeers(int cmd_fd, int report_fd, const PeerOptions& options);

// Sends a Register for worker `id` (also used by the bench's restart phase).
void RegisterPeer(zmq::socket_t& socket, const std::string& id, const std::string& token,
                  int slots);

// Steady-clock nanoseconds: comparable across the bench's two processes.
int64_t NowNs();

// One line over a pipe (the newline is not returned); "" at end of file.
std::string ReadLine(int fd);
void WriteLine(int fd, const std::string& line);

}  // namespace edgefarm::bench
