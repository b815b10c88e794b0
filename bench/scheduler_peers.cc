// Worker peers of edgefarm-bench-scheduler. See scheduler_peers.h.
//
// Implementation notes:
// - The peers share the machine's cores with the coordinator they load, so their own cost is
//   part of what the bench measures. Each thread waits in epoll on the ZMQ_FD of its sockets and
//   touches only the sockets that signalled. zmq_poll over 100 sockets, the first version, cost a
//   third of all CPU time at 10,000 jobs/s (it asks every socket for its events on each wakeup).
// - ZMQ_FD signals that a socket has commands to process, not that a message is waiting, and any
//   call on the socket may consume that signal. So a signalled socket is read until EAGAIN (which
//   re-arms the signal for the next message), and every socket is drained again after the
//   heartbeats are sent on it.
#include "scheduler_peers.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "edgefarm/proto/frame_codec.h"
#include "edgefarm/v1/farm.pb.h"

namespace edgefarm::bench {
namespace {

using Steady = std::chrono::steady_clock;

struct PeerStats {
  std::atomic<int64_t> assigns{0}, acks{0}, first_assign_ns{0}, last_assign_ns{0}, last_ack_ns{0};
  std::mutex mu;
  std::vector<int64_t> latencies_ns;  // the latency phase only
  std::atomic<bool> measure_latency{false};
  std::atomic<bool> stop{false};
  std::atomic<int> welcomed{0};
};

void SendEnv(zmq::socket_t& s, v1::Envelope env) {
  std::string frame = proto::EncodeFrame(std::move(env));
  (void)s.send(zmq::buffer(frame), zmq::send_flags::none);
}

void OnAssign(zmq::socket_t& s, const v1::Assign& assign, PeerStats& stats) {
  const int64_t now = NowNs();
  int64_t expected = 0;
  stats.first_assign_ns.compare_exchange_strong(expected, now);
  stats.last_assign_ns = now;
  ++stats.assigns;
  if (stats.measure_latency) {
    auto it = assign.spec().command().env().find("SUBMITTED_NS");
    if (it != assign.spec().command().env().end()) {
      std::lock_guard lock(stats.mu);
      stats.latencies_ns.push_back(now - std::atoll(it->second.c_str()));
    }
  }
  v1::Envelope accept;
  accept.mutable_accept()->set_job_id(assign.job_id());
  accept.mutable_accept()->set_attempt(assign.attempt());
  accept.mutable_accept()->set_lease_token(assign.lease_token());
  SendEnv(s, std::move(accept));
  v1::Envelope result;
  v1::JobResult* r = result.mutable_result();
  r->set_job_id(assign.job_id());
  r->set_attempt(assign.attempt());
  r->set_lease_token(assign.lease_token());
  r->set_outcome(v1::OUTCOME_SUCCEEDED);
  SendEnv(s, std::move(result));
}

// The sockets of one peer thread and the epoll set over their ZMQ_FDs.
class PeerGroup {
 public:
  PeerGroup(int first, int count, const std::string& endpoint, const std::string& token, int slots,
            zmq::context_t& ctx, PeerStats& stats)
      : stats_(stats), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    for (int i = 0; i < count; ++i) {
      sockets_.emplace_back(ctx, zmq::socket_type::dealer);
      const std::string id = "bench-w" + std::to_string(first + i);
      sockets_.back().set(zmq::sockopt::routing_id, id);
      sockets_.back().set(zmq::sockopt::linger, 0);
      sockets_.back().connect(endpoint);
      RegisterPeer(sockets_.back(), id, token, slots);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, sockets_.back().get(zmq::sockopt::fd), &ev) != 0) {
        std::perror("epoll_ctl");
      }
    }
  }
  ~PeerGroup() { ::close(epoll_); }
  PeerGroup(const PeerGroup&) = delete;
  PeerGroup& operator=(const PeerGroup&) = delete;

  void Run() {
    DrainAll();  // anything that arrived while registering
    std::vector<epoll_event> ready(sockets_.size());
    auto next_heartbeat = Steady::now() + std::chrono::seconds(1);
    while (!stats_.stop) {
      const int n = ::epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 50);
      for (int i = 0; i < n; ++i) Drain(ready[static_cast<size_t>(i)].data.u32);
      if (Steady::now() >= next_heartbeat) {  // liveness while idle
        for (auto& s : sockets_) {
          v1::Envelope hb;
          hb.mutable_heartbeat();
          SendEnv(s, std::move(hb));
        }
        DrainAll();  // the sends may have consumed a socket's signal
        next_heartbeat = Steady::now() + std::chrono::seconds(1);
      }
    }
  }

 private:
  void DrainAll() {
    for (size_t i = 0; i < sockets_.size(); ++i) Drain(i);
  }

  // Reads until EAGAIN, which re-arms the socket's ZMQ_FD for its next message.
  void Drain(size_t i) {
    zmq::socket_t& s = sockets_[i];
    zmq::message_t msg;
    while (s.recv(msg, zmq::recv_flags::dontwait)) {
      auto env = proto::DecodeFrame(std::string_view(msg.data<char>(), msg.size()));
      if (!env.ok()) continue;
      if (env->has_assign()) OnAssign(s, env->assign(), stats_);
      if (env->has_welcome()) ++stats_.welcomed;
      if (env->has_result_ack()) {
        stats_.last_ack_ns = NowNs();
        ++stats_.acks;
      }
    }
  }

  PeerStats& stats_;
  int epoll_;
  std::vector<zmq::socket_t> sockets_;
};

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t at = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[at];
}

std::string Report(PeerStats& stats) {
  std::lock_guard lock(stats.mu);
  std::vector<int64_t> lat = stats.latencies_ns;
  std::ostringstream out;
  out << stats.welcomed << " " << stats.assigns << " " << stats.acks << " " << stats.first_assign_ns
      << " " << stats.last_assign_ns << " " << stats.last_ack_ns << " " << Percentile(lat, 0.5)
      << " " << Percentile(lat, 0.99) << " " << lat.size();
  return out.str();
}

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  return line;
}

void WriteLine(int fd, const std::string& line) {
  std::string s = line + "\n";
  if (::write(fd, s.data(), s.size()) < 0) std::perror("write");
}

void RegisterPeer(zmq::socket_t& s, const std::string& id, const std::string& token, int slots) {
  v1::Envelope env;
  v1::Register* reg = env.mutable_register_();
  reg->set_worker_id(id);
  reg->set_name(id);
  reg->set_slots(static_cast<uint32_t>(slots));
  reg->set_enrol_token(token);
  reg->set_agent_version("bench");
  SendEnv(s, std::move(env));
}

int RunPeers(int cmd_fd, int report_fd, const PeerOptions& options) {
  std::istringstream hello(ReadLine(cmd_fd));
  std::string endpoint, token;
  hello >> endpoint >> token;
  zmq::context_t ctx(2);
  PeerStats stats;
  std::vector<std::thread> threads;
  const int per = (options.workers + options.threads - 1) / options.threads;
  for (int first = 0; first < options.workers; first += per) {
    const int count = std::min(per, options.workers - first);
    threads.emplace_back([&, first, count] {
      pthread_setname_np(pthread_self(), "bench-peers");
      PeerGroup(first, count, endpoint, token, options.slots, ctx, stats).Run();
    });
  }
  while (true) {
    const std::string cmd = ReadLine(cmd_fd);
    if (cmd == "quit" || cmd.empty()) break;
    if (cmd == "reset") {
      stats.assigns = 0;
      stats.acks = 0;
      stats.first_assign_ns = 0;
      std::lock_guard lock(stats.mu);
      stats.latencies_ns.clear();
    } else if (cmd == "latency on" || cmd == "latency off") {
      stats.measure_latency = cmd == "latency on";
    } else if (cmd == "report") {
      WriteLine(report_fd, Report(stats));
    }
  }
  stats.stop = true;
  for (auto& t : threads) t.join();
  return 0;
}

}  // namespace edgefarm::bench
