// The HTTP calls JobSlotControl makes to the serve and router jobs it started (health, a smoke
// completion, the router's admin API). Internal to edgefarm_coordinator_slots; the cpp-httplib
// adapter is slot_http.cc, and no httplib exception leaves it.
//
// Thread-safety: stateless functions; safe from any thread. Failure: Unavailable when the
// endpoint cannot be reached or answers without a body; an answer with any status is returned as
// is (the caller judges it). Bearer tokens are sent as headers and never appear in errors.
#pragma once

#include <string>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct SlotHttpReply {
  int status = 0;
  std::string body;
};

// method is "GET", "PUT" or "POST"; url is "http://HOST:PORT"; path starts with '/'. An empty
// token sends no Authorization header. timeout_ms bounds connecting and reading.
Result<SlotHttpReply> SlotHttpCall(const std::string& method, const std::string& url,
                                   const std::string& path, const std::string& body,
                                   const std::string& token, int timeout_ms);

}  // namespace edgefarm::coordinator
