// cpp-httplib adapter for the load generator. Each client thread keeps one httplib::Client (a
// keep-alive connection, like a real caller) and claims request tickets from a shared atomic
// counter, so a request-count run sends exactly `requests` requests whatever the interleaving.
#include "edgefarm/serving/load_generator.h"

#include <httplib.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>
#include <vector>

#include "edgefarm/serving/latency_stats.h"

namespace edgefarm::serving {
namespace {

struct Target {
  std::string host;
  int port = 0;
};

Result<Target> ParseLoopbackUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest(url);
  if (rest.substr(0, kScheme.size()) != kScheme) return InvalidArgument("URL must be http://");
  rest.remove_prefix(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return InvalidArgument("URL must be http://HOST:PORT");
  std::string host(rest.substr(0, colon));
  if (host == "[::1]") host = "::1";
  if (host != "127.0.0.1" && host != "localhost" && host != "::1") {
    return InvalidArgument("load generation is limited to loopback targets, not '" + host + "'");
  }
  int port = 0;
  const std::string_view p = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535) {
    return InvalidArgument("URL has a bad port");
  }
  return Target{host, port};
}

Status Validate(const LoadOptions& o) {
  if (o.method != "POST" && o.method != "GET") return InvalidArgument("method must be POST or GET");
  if (o.path.empty() || o.path[0] != '/') return InvalidArgument("path must start with '/'");
  if (o.concurrency < 1 || o.concurrency > kMaxConcurrency) {
    return InvalidArgument("concurrency must be in [1, " + std::to_string(kMaxConcurrency) + "]");
  }
  const bool by_count = o.requests > 0;
  const bool by_time = o.duration.count() > 0;
  if (by_count == by_time) return InvalidArgument("set exactly one of requests or duration");
  if (o.requests > kMaxRequests) return InvalidArgument("too many requests");
  if (o.duration > kMaxDuration) return InvalidArgument("duration too long");
  if (o.request_timeout.count() <= 0) return InvalidArgument("request timeout must be positive");
  return Status::Ok();
}

struct Shared {
  std::atomic<int64_t> tickets{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::map<int, int64_t> status_counts;
  int64_t errors = 0;
};

void ClientLoop(const LoadOptions& o, const Target& t,
                std::chrono::steady_clock::time_point deadline, Shared* shared) {
  httplib::Client client(t.host, t.port);
  client.set_connection_timeout(std::chrono::milliseconds(5000));
  client.set_read_timeout(o.request_timeout);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  std::vector<double> latencies;
  std::map<int, int64_t> counts;
  int64_t errors = 0;
  for (;;) {
    if (o.requests > 0 && shared->tickets.fetch_add(1) >= o.requests) break;
    if (o.requests == 0 && std::chrono::steady_clock::now() >= deadline) break;
    const auto start = std::chrono::steady_clock::now();
    auto r = o.method == "POST" ? client.Post(o.path.c_str(), o.body, "application/json")
                                : client.Get(o.path.c_str());
    latencies.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    const int status = r ? r->status : 0;
    ++counts[status];
    if (status == 0 || status >= 400) ++errors;
  }
  std::lock_guard<std::mutex> lock(shared->mu);
  shared->latencies.insert(shared->latencies.end(), latencies.begin(), latencies.end());
  for (const auto& [code, n] : counts) shared->status_counts[code] += n;
  shared->errors += errors;
}

}  // namespace

Result<LoadReport> RunLoad(const LoadOptions& options) {
  EF_RETURN_IF_ERROR(Validate(options));
  EF_ASSIGN_OR_RETURN(Target target, ParseLoopbackUrl(options.url));
  Shared shared;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options.duration;
  std::vector<std::thread> clients;
  clients.reserve(static_cast<size_t>(options.concurrency));
  for (int i = 0; i < options.concurrency; ++i) {
    clients.emplace_back(ClientLoop, std::cref(options), std::cref(target), deadline, &shared);
  }
  for (std::thread& t : clients) t.join();
  LoadReport report;
  report.elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.requests = static_cast<int64_t>(shared.latencies.size());
  report.errors = shared.errors;
  report.status_counts = std::move(shared.status_counts);
  if (report.requests > 0) {
    report.error_rate = static_cast<double>(report.errors) / static_cast<double>(report.requests);
  }
  if (report.elapsed_s > 0) {
    report.throughput_rps = static_cast<double>(report.requests) / report.elapsed_s;
  }
  const LatencySummary s = Summarize(std::move(shared.latencies));
  report.p50_ms = s.p50_ms;
  report.p95_ms = s.p95_ms;
  report.p99_ms = s.p99_ms;
  report.max_ms = s.max_ms;
  report.mean_ms = s.mean_ms;
  return report;
}

}  // namespace edgefarm::serving
