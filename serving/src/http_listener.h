// Internal: starting a cpp-httplib server on its own thread, shared by InferenceServer and
// TrafficRouter. Only cpp-httplib adapter files include this header.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

#include "edgefarm/common/status.h"

namespace edgefarm::serving {

// Binds `http` to host:port (port 0: any free port), then starts `*thread` running the listen
// loop and waits (at most 30 s) until httplib reports it running, so that an http.stop() right
// after this returns is not lost: httplib ignores stop() until its loop has started.
// Returns the bound port, or IoError "cannot bind <host>:<port>" with `*thread` left untouched.
// `*thread` must not be joinable on entry; the caller stops `http` and joins `*thread`.
// `http` must outlive the thread.
Result<int> BindAndListen(httplib::Server& http, const std::string& host, int port,
                          std::thread* thread);

}  // namespace edgefarm::serving
