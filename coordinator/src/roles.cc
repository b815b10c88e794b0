#include "edgefarm/coordinator/roles.h"

namespace edgefarm::coordinator {

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kDeveloper:
      return "developer";
    case Role::kReleaseManager:
      return "release-manager";
    case Role::kAdmin:
      return "admin";
    case Role::kWorker:
      return "worker";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view text) {
  for (Role role :
       {Role::kViewer, Role::kDeveloper, Role::kReleaseManager, Role::kAdmin, Role::kWorker}) {
    if (ToString(role) == text) return role;
  }
  return std::nullopt;
}

bool Allows(Role role, Permission permission) {
  if (role == Role::kWorker) {
    return permission == Permission::kBlobRead || permission == Permission::kBlobWrite;
  }
  // The people's roles are ordered: each may do what the one below it may.
  auto rank = [](Role r) {
    switch (r) {
      case Role::kViewer:
        return 0;
      case Role::kDeveloper:
        return 1;
      case Role::kReleaseManager:
        return 2;
      default:
        return 3;
    }
  };
  switch (permission) {
    case Permission::kRead:
    case Permission::kBlobRead:
      return true;
    case Permission::kBlobWrite:
    case Permission::kSubmit:
      return rank(role) >= 1;
    case Permission::kRelease:
      return rank(role) >= 2;
    case Permission::kAdmin:
      return rank(role) >= 3;
  }
  return false;
}

}  // namespace edgefarm::coordinator
