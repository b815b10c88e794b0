// cpp-httplib adapter for JobSlotControl: one short-lived client per attempt (slot URLs change
// as jobs move, and calls are rare: a few per promotion tick), exceptions caught here. A
// transport failure is retried a bounded number of times with a short pause: on a loaded machine
// a server may be slow to accept, and a router job restarted by the scheduler on the same port
// closes connections while it goes away. The promotion machine's phase deadline stays in charge
// of the whole action (it retries a failed action on later ticks until then).
#include "slot_http.h"

#include <httplib.h>

#include <chrono>
#include <exception>
#include <thread>

namespace edgefarm::coordinator {
namespace {

// One attempt: a reply with any status, or the transport error's name.
Result<SlotHttpReply> Once(const std::string& method, const std::string& url,
                           const std::string& path, const std::string& body,
                           const std::string& token, int timeout_ms) {
  try {
    httplib::Client client(url);
    const time_t sec = timeout_ms / 1000;
    const time_t usec = static_cast<time_t>(timeout_ms % 1000) * 1000;
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    client.set_keep_alive(false);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    httplib::Result res = method == "GET" ? client.Get(path.c_str(), headers)
                          : method == "PUT"
                              ? client.Put(path.c_str(), headers, body, "application/json")
                              : client.Post(path.c_str(), headers, body, "application/json");
    if (!res) return Unavailable(httplib::to_string(res.error()));
    return SlotHttpReply{res->status, res->body};
  } catch (const std::exception& e) {
    return Unavailable(e.what());
  }
}

}  // namespace

Result<SlotHttpReply> SlotHttpCall(const std::string& method, const std::string& url,
                                   const std::string& path, const std::string& body,
                                   const std::string& token, const SlotHttpPolicy& policy) {
  if (method != "GET" && method != "PUT" && method != "POST") {
    return InvalidArgument("unsupported method " + method);
  }
  const int attempts = policy.attempts < 1 ? 1 : policy.attempts;
  std::string last;
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 << (i - 1)));
    Result<SlotHttpReply> reply = Once(method, url, path, body, token, policy.timeout_ms);
    if (reply.ok()) return reply;
    last = reply.status().message();
  }
  return Unavailable(method + " " + url + path + ": " + last +
                     (attempts > 1 ? " (" + std::to_string(attempts) + " attempts)" : ""));
}

}  // namespace edgefarm::coordinator
