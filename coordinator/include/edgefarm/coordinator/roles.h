// API roles and what each may do.
//
// viewer reads; developer also submits and cancels runs and uploads blobs; release-manager also
// approves, rejects and rolls back promotions; admin may do everything (workers, repositories,
// tokens, audit). The worker role is separate: it may only read and write blobs. Pure functions;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace edgefarm::coordinator {

enum class Role { kViewer, kDeveloper, kReleaseManager, kAdmin, kWorker };

// What a route needs.
enum class Permission {
  kRead,       // GET of runs, jobs, logs, workers, repositories, artifacts
  kBlobRead,   // GET /blobs (also the worker token)
  kBlobWrite,  // PUT /blobs (also the worker token)
  kSubmit,     // submit and cancel runs
  kRelease,    // approve, reject, roll back
  kAdmin,      // workers, repositories, tokens, audit
};

std::string_view ToString(Role role);
// "viewer", "developer", "release-manager", "admin", "worker"; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view text);
bool Allows(Role role, Permission permission);

}  // namespace edgefarm::coordinator
