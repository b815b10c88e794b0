// cpp-httplib adapter for JobSlotControl: one short-lived client per call (slot URLs change as
// jobs move, and calls are rare: a few per promotion tick), exceptions caught here.
#include "slot_http.h"

#include <httplib.h>

#include <exception>

namespace edgefarm::coordinator {

Result<SlotHttpReply> SlotHttpCall(const std::string& method, const std::string& url,
                                   const std::string& path, const std::string& body,
                                   const std::string& token, int timeout_ms) {
  try {
    httplib::Client client(url);
    const time_t sec = timeout_ms / 1000;
    const time_t usec = static_cast<time_t>(timeout_ms % 1000) * 1000;
    client.set_connection_timeout(sec, usec);
    client.set_read_timeout(sec, usec);
    client.set_write_timeout(sec, usec);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    if (method != "GET" && method != "PUT" && method != "POST") {
      return InvalidArgument("unsupported method " + method);
    }
    httplib::Result res = method == "GET" ? client.Get(path.c_str(), headers)
                          : method == "PUT"
                              ? client.Put(path.c_str(), headers, body, "application/json")
                              : client.Post(path.c_str(), headers, body, "application/json");
    if (!res) {
      return Unavailable(method + " " + url + path + ": " + httplib::to_string(res.error()));
    }
    return SlotHttpReply{res->status, res->body};
  } catch (const std::exception& e) {
    return Unavailable(method + " " + url + path + ": " + e.what());
  }
}

}  // namespace edgefarm::coordinator
