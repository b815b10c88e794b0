#include "http_listener.h"

#include <chrono>

namespace edgefarm::serving {

Result<int> BindAndListen(httplib::Server& http, const std::string& host, int port,
                          std::thread* thread) {
  const int bound =
      port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return IoError("cannot bind " + host + ":" + std::to_string(port));
  *thread = std::thread([&http] { http.listen_after_bind(); });
  // The wait is brief: marking itself running is the next thing the listen thread does.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!http.is_running() && std::chrono::steady_clock::now() < limit) {
    std::this_thread::yield();
  }
  return bound;
}

}  // namespace edgefarm::serving
