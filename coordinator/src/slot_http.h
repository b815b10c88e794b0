// The HTTP calls JobSlotControl makes to the serve and router jobs it started (health, a smoke
// completion, the router's admin API). Internal to edgefarm_coordinator_slots; the cpp-httplib
// adapter is slot_http.cc, and no httplib exception leaves it.
//
// Thread-safety: stateless functions; safe from any thread. Failure: Unavailable when the
// endpoint cannot be reached or answers without a body, after every attempt; an answer with any
// status is returned as is (the caller judges it) and never retried. Bearer tokens are sent as
// headers and never appear in errors.
#pragma once

#include <string>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct SlotHttpReply {
  int status = 0;
  std::string body;
};

struct SlotHttpPolicy {
  int timeout_ms = 5000;  // bounds connecting and reading, per attempt
  // Attempts in all for a transport failure (refused, reset, no answer in time). Every call
  // JobSlotControl makes is idempotent (GET, PUT of a whole value, reset of a window), so a call
  // whose answer was lost may be sent again. Pauses between attempts: 100 ms, 200 ms, ...
  int attempts = 3;
};

// method is "GET", "PUT" or "POST"; url is "http://HOST:PORT"; path starts with '/'. An empty
// token sends no Authorization header. Each attempt uses a new connection (no keep-alive: a
// connection the server closed while idle is never reused). The error names every attempt's
// failure count and the last one.
Result<SlotHttpReply> SlotHttpCall(const std::string& method, const std::string& url,
                                   const std::string& path, const std::string& body,
                                   const std::string& token, const SlotHttpPolicy& policy);

}  // namespace edgefarm::coordinator
