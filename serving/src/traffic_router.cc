// cpp-httplib adapter for the traffic router. Each proxied request opens its own upstream
// httplib::Client: clients are not safe for concurrent use, and a connect on loopback costs far
// less than a completion. The slot is chosen and the upstream address copied under one lock; the
// upstream call runs outside it. Samples live in a per-slot deque pruned by age on every record
// and snapshot, so memory stays bounded by the window and the count cap.
#include "edgefarm/serving/traffic_router.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "edgefarm/serving/latency_stats.h"
#include "http_listener.h"

namespace edgefarm::serving {

using Json = nlohmann::json;

namespace {

struct Upstream {
  std::string host;
  int port = 0;
  bool attached() const { return port > 0; }
};

Result<Upstream> ParseUpstream(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("upstream URL must start with http://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument("upstream URL must be http://HOST:PORT");
  }
  int port = 0;
  const std::string_view port_text = rest.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return InvalidArgument("upstream URL has a bad port");
  }
  return Upstream{std::string(rest.substr(0, colon)), port};
}

struct Sample {
  std::chrono::steady_clock::time_point at;
  double latency_ms;
  bool error;
};

std::string ErrorBody(std::string_view code, std::string_view message) {
  return Json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

Json StatsJson(const SlotStats& s) {
  return Json{{"requests", s.requests}, {"errors", s.errors}, {"error_rate", s.error_rate},
              {"p50_ms", s.p50_ms},     {"p95_ms", s.p95_ms}, {"p99_ms", s.p99_ms}};
}

// Constant-time comparison so response timing reveals nothing about the token.
bool SameToken(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  }
  return diff == 0;
}

Result<Slot> SlotField(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) {
    return InvalidArgument(std::string("\"") + key + "\" must be \"blue\" or \"green\"");
  }
  return ParseSlot(it->get<std::string>());
}

}  // namespace

std::string_view SlotName(Slot slot) {
  return slot == Slot::kBlue ? "blue" : "green";
}

Result<Slot> ParseSlot(std::string_view name) {
  if (name == "blue") return Slot::kBlue;
  if (name == "green") return Slot::kGreen;
  return InvalidArgument("slot must be \"blue\" or \"green\"");
}

void WeightedSplit::Reset(int candidate_weight) {
  weight_ = candidate_weight;
  n_ = 0;
}

bool WeightedSplit::NextIsCandidate() {
  const uint64_t w = static_cast<uint64_t>(weight_);
  const bool candidate = (n_ + 1) * w / 100 > n_ * w / 100;
  n_ = (n_ + 1) % 100;  // the pattern repeats every 100 requests
  return candidate;
}

RouterOptions DefaultRouterOptions() {
  return RouterOptions{};
}

struct TrafficRouter::Impl {
  RouterOptions options;
  std::shared_ptr<spdlog::logger> log;
  const Clock* clock = nullptr;
  httplib::Server http;
  std::thread thread;
  int port = 0;
  bool started = false;

  mutable std::mutex mu;  // guards everything below
  Upstream upstreams[2];
  Slot live = Slot::kBlue;
  WeightedSplit split;
  mutable std::deque<Sample> samples[2];
  uint64_t total_requests[2] = {0, 0};  // since start, for /metrics counters
  uint64_t total_errors[2] = {0, 0};

  void Route();
  void RouteAdmin();
  Status SetUpstream(Slot slot, std::string_view base_url);
  Status SetRouting(Slot new_live, int candidate_weight);
  void ResetStats(Slot slot);
  // Runs an admin request: checks the bearer token, parses the JSON body, calls `apply`.
  void Admin(const httplib::Request& req, httplib::Response& res,
             const std::function<Status(const Json&)>& apply);
  void Forward(const httplib::Request& req, httplib::Response& res);
  void Record(Slot slot, double latency_ms, bool error);
  void PruneLocked(Slot slot, std::chrono::steady_clock::time_point now) const;
  SlotStats SnapshotLocked(Slot slot) const;
  std::string StatusJson() const;
  std::string MetricsText() const;
};

void TrafficRouter::Impl::Route() {
  auto forward = [this](const httplib::Request& req, httplib::Response& res) { Forward(req, res); };
  http.Post("/v1/completions", forward);
  http.Get("/health", forward);
  http.Get("/router/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson(), "application/json");
  });
  http.Get("/router/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(), "text/plain; version=0.0.4");
  });
  if (!options.admin_token.empty()) RouteAdmin();
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(ErrorBody(res.status == 404 ? "not_found" : "bad_request",
                                "HTTP " + std::to_string(res.status) + " for " + req.path),
                      "application/json");
    }
  });
  http.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(ErrorBody("internal", "unexpected error"), "application/json");
        log->error("traffic router: exception in a request handler");
      });
}

void TrafficRouter::Impl::Admin(const httplib::Request& req, httplib::Response& res,
                                const std::function<Status(const Json&)>& apply) {
  const std::string auth = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() || auth.compare(0, kBearer.size(), kBearer) != 0 ||
      !SameToken(std::string_view(auth).substr(kBearer.size()), options.admin_token)) {
    res.status = 401;
    res.set_content(ErrorBody("unauthenticated", "missing or unknown admin token"),
                    "application/json");
    return;
  }
  const Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  Status s = body.is_object() ? apply(body) : InvalidArgument("body must be a JSON object");
  if (!s.ok()) {
    res.status = 400;
    res.set_content(ErrorBody("invalid_argument", s.message()), "application/json");
    return;
  }
  res.set_content(StatusJson(), "application/json");
}

void TrafficRouter::Impl::RouteAdmin() {
  http.Put("/router/routing", [this](const httplib::Request& req, httplib::Response& res) {
    Admin(req, res, [this](const Json& body) -> Status {
      EF_ASSIGN_OR_RETURN(Slot slot, SlotField(body, "live"));
      auto w = body.find("candidate_weight");
      if (w == body.end() || !w->is_number_integer()) {
        return InvalidArgument("\"candidate_weight\" must be an integer in [0, 100]");
      }
      const int64_t weight = w->get<int64_t>();
      return SetRouting(slot, weight < 0 || weight > 100 ? -1 : static_cast<int>(weight));
    });
  });
  http.Put("/router/upstream", [this](const httplib::Request& req, httplib::Response& res) {
    Admin(req, res, [this](const Json& body) -> Status {
      EF_ASSIGN_OR_RETURN(Slot slot, SlotField(body, "slot"));
      auto url = body.find("url");
      if (url == body.end() || !url->is_string())
        return InvalidArgument("\"url\" must be a string");
      return SetUpstream(slot, url->get<std::string>());
    });
  });
  http.Post("/router/reset", [this](const httplib::Request& req, httplib::Response& res) {
    Admin(req, res, [this](const Json& body) -> Status {
      EF_ASSIGN_OR_RETURN(Slot slot, SlotField(body, "slot"));
      ResetStats(slot);
      return Status::Ok();
    });
  });
}

void TrafficRouter::Impl::Forward(const httplib::Request& req, httplib::Response& res) {
  // Only real traffic is split and feeds the analysis: health probes go to the live slot, so
  // they neither shift the exact split nor dilute a slow candidate's latency, nor fill
  // min_requests without a single completion.
  const bool counted = req.path == "/v1/completions";
  Slot slot;
  Upstream up;
  {
    std::lock_guard<std::mutex> lock(mu);
    slot = counted && split.NextIsCandidate() ? OtherSlot(live) : live;
    up = upstreams[static_cast<int>(slot)];
  }
  res.set_header("X-Edgefarm-Slot", std::string(SlotName(slot)));
  const auto start = std::chrono::steady_clock::now();
  httplib::Result r{nullptr, httplib::Error::Connection};
  if (up.attached()) {
    httplib::Client client(up.host, up.port);
    client.set_tcp_nodelay(true);
    client.set_connection_timeout(std::chrono::milliseconds(options.upstream_connect_timeout_ms));
    client.set_read_timeout(std::chrono::milliseconds(options.upstream_read_timeout_ms));
    if (req.method == "POST") {
      std::string type = req.get_header_value("Content-Type");
      if (type.empty()) type = "application/json";
      r = client.Post(req.path.c_str(), req.body, type.c_str());
    } else {
      r = client.Get(req.path.c_str());
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!r) {
    res.status = 502;
    const std::string why = up.attached() ? httplib::to_string(r.error()) : "slot has no upstream";
    res.set_content(
        ErrorBody("upstream_unavailable", std::string(SlotName(slot)) + " upstream failed: " + why),
        "application/json");
    if (counted) Record(slot, ms, true);
    return;
  }
  res.status = r->status;
  std::string type = r->get_header_value("Content-Type");
  res.set_content(r->body, type.empty() ? "application/octet-stream" : type.c_str());
  if (counted) Record(slot, ms, r->status >= 500);
}

void TrafficRouter::Impl::PruneLocked(Slot slot, std::chrono::steady_clock::time_point now) const {
  auto& q = samples[static_cast<int>(slot)];
  while (!q.empty() &&
         (now - q.front().at > options.window || q.size() > options.max_samples_per_slot)) {
    q.pop_front();
  }
}

void TrafficRouter::Impl::Record(Slot slot, double latency_ms, bool error) {
  const auto now = clock->SteadyNow();
  std::lock_guard<std::mutex> lock(mu);
  samples[static_cast<int>(slot)].push_back({now, latency_ms, error});
  ++total_requests[static_cast<int>(slot)];
  if (error) ++total_errors[static_cast<int>(slot)];
  PruneLocked(slot, now);
}

SlotStats TrafficRouter::Impl::SnapshotLocked(Slot slot) const {
  PruneLocked(slot, clock->SteadyNow());
  SlotStats s;
  std::vector<double> latencies;
  for (const Sample& sample : samples[static_cast<int>(slot)]) {
    ++s.requests;
    if (sample.error) ++s.errors;
    latencies.push_back(sample.latency_ms);
  }
  if (s.requests > 0)
    s.error_rate = static_cast<double>(s.errors) / static_cast<double>(s.requests);
  const LatencySummary summary = Summarize(std::move(latencies));
  s.p50_ms = summary.p50_ms;
  s.p95_ms = summary.p95_ms;
  s.p99_ms = summary.p99_ms;
  return s;
}

std::string TrafficRouter::Impl::StatusJson() const {
  std::lock_guard<std::mutex> lock(mu);
  Json j{{"live", std::string(SlotName(live))},
         {"candidate", std::string(SlotName(OtherSlot(live)))},
         {"candidate_weight", split.weight()}};
  for (Slot slot : {Slot::kBlue, Slot::kGreen}) {
    const Upstream& up = upstreams[static_cast<int>(slot)];
    Json s = StatsJson(SnapshotLocked(slot));
    s["upstream"] = up.attached() ? "http://" + up.host + ":" + std::to_string(up.port) : "";
    j["slots"][std::string(SlotName(slot))] = std::move(s);
  }
  return j.dump();
}

Status TrafficRouter::Impl::SetUpstream(Slot slot, std::string_view base_url) {
  Upstream up;
  if (!base_url.empty()) {
    EF_ASSIGN_OR_RETURN(up, ParseUpstream(base_url));
  }
  std::lock_guard<std::mutex> lock(mu);
  upstreams[static_cast<int>(slot)] = up;
  log->info("traffic router: {} upstream {}", SlotName(slot),
            up.attached() ? std::string(base_url) : "detached");
  return Status::Ok();
}

Status TrafficRouter::Impl::SetRouting(Slot new_live, int candidate_weight) {
  if (candidate_weight < 0 || candidate_weight > 100) {
    return InvalidArgument("candidate weight must be in [0, 100]");
  }
  std::lock_guard<std::mutex> lock(mu);
  live = new_live;
  split.Reset(candidate_weight);
  log->info("traffic router: live {}, {}% to {}", SlotName(new_live), candidate_weight,
            SlotName(OtherSlot(new_live)));
  return Status::Ok();
}

void TrafficRouter::Impl::ResetStats(Slot slot) {
  std::lock_guard<std::mutex> lock(mu);
  samples[static_cast<int>(slot)].clear();
}

// Counters since start plus the window's figures as gauges, one series per slot.
std::string TrafficRouter::Impl::MetricsText() const {
  std::lock_guard<std::mutex> lock(mu);
  std::string out =
      "# TYPE edgefarm_router_candidate_weight gauge\n"
      "edgefarm_router_candidate_weight " +
      std::to_string(split.weight()) + "\n# TYPE edgefarm_router_live gauge\n";
  for (Slot slot : {Slot::kBlue, Slot::kGreen}) {
    out += "edgefarm_router_live{slot=\"" + std::string(SlotName(slot)) + "\"} " +
           (slot == live ? "1\n" : "0\n");
  }
  std::string requests = "# TYPE edgefarm_router_requests_total counter\n";
  std::string errors = "# TYPE edgefarm_router_errors_total counter\n";
  std::string window = "# TYPE edgefarm_router_window_latency_ms gauge\n";
  for (Slot slot : {Slot::kBlue, Slot::kGreen}) {
    const int i = static_cast<int>(slot);
    const std::string label = "{slot=\"" + std::string(SlotName(slot)) + "\"";
    requests +=
        "edgefarm_router_requests_total" + label + "} " + std::to_string(total_requests[i]) + "\n";
    errors +=
        "edgefarm_router_errors_total" + label + "} " + std::to_string(total_errors[i]) + "\n";
    const SlotStats s = SnapshotLocked(slot);
    for (const auto& [q, v] :
         {std::pair{"0.5", s.p50_ms}, {"0.95", s.p95_ms}, {"0.99", s.p99_ms}}) {
      window += "edgefarm_router_window_latency_ms" + label + ",quantile=\"" + q + "\"} " +
                Json(v).dump() + "\n";
    }
  }
  return out + requests + errors + window;
}

TrafficRouter::TrafficRouter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TrafficRouter::~TrafficRouter() {
  Stop();
}

Result<std::unique_ptr<TrafficRouter>> TrafficRouter::Create(const RouterOptions& options,
                                                             std::shared_ptr<spdlog::logger> logger,
                                                             const Clock* clock) {
  if (options.http_threads < 1 || options.http_threads > 1024) {
    return InvalidArgument("router http threads must be in [1, 1024]");
  }
  if (options.window.count() <= 0 || options.max_samples_per_slot == 0) {
    return InvalidArgument("router window and sample cap must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->log = logger ? std::move(logger) : spdlog::default_logger();
  impl->clock = clock ? clock : &SystemClock::Instance();
  const int threads = options.http_threads;
  impl->http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl->http.set_payload_max_length(options.max_body_bytes);
  impl->http.set_tcp_nodelay(true);  // see InferenceServer: Nagle stalls would skew latencies
  impl->Route();
  return std::unique_ptr<TrafficRouter>(new TrafficRouter(std::move(impl)));
}

Status TrafficRouter::Start() {
  Impl& s = *impl_;
  if (s.started) return FailedPrecondition("traffic router already started");
  EF_ASSIGN_OR_RETURN(const int port,
                      BindAndListen(s.http, s.options.host, s.options.port, &s.thread));
  s.port = port;
  s.started = true;
  s.log->info("traffic router: listening on {}:{}", s.options.host, port);
  return Status::Ok();
}

void TrafficRouter::Stop() {
  if (!impl_ || !impl_->started) return;
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

int TrafficRouter::port() const {
  return impl_->port;
}

std::string TrafficRouter::base_url() const {
  return "http://" + impl_->options.host + ":" + std::to_string(impl_->port);
}

Status TrafficRouter::SetUpstream(Slot slot, std::string_view base_url) {
  return impl_->SetUpstream(slot, base_url);
}

Status TrafficRouter::SetRouting(Slot live, int candidate_weight) {
  return impl_->SetRouting(live, candidate_weight);
}

Slot TrafficRouter::live() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->live;
}

int TrafficRouter::candidate_weight() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->split.weight();
}

SlotStats TrafficRouter::Snapshot(Slot slot) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->SnapshotLocked(slot);
}

void TrafficRouter::ResetStats(Slot slot) {
  impl_->ResetStats(slot);
}

}  // namespace edgefarm::serving
