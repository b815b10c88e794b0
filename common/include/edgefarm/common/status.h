// Errors as values for every edgefarm library.
//
// A Status is either OK or carries a code and a human-readable message. Result<T> holds either a
// value or a non-OK Status. Exceptions from third-party libraries (yaml-cpp, cppzmq,
// Boost.Process, nlohmann::json) are caught inside the adapter that calls them and turned into a
// Status; they never cross a module boundary.
//
// Thread-safety: values are immutable after construction; safe to copy between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace edgefarm {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller's input is malformed (bad YAML, bad flag, bad frame)
  kNotFound,          // a named thing does not exist
  kAlreadyExists,     // a create collided with an existing thing
  kFailedPrecondition,// the system is not in a state that allows the operation
  kPermissionDenied,  // authenticated but not allowed
  kUnauthenticated,   // no or unknown credentials
  kResourceExhausted, // a limit was hit (size, count, queue)
  kDataLoss,          // stored or received data is corrupt or truncated
  kUnavailable,       // a peer or resource is temporarily unreachable; retrying may help
  kDeadlineExceeded,  // a timeout expired
  kCancelled,         // the operation was cancelled
  kIoError,           // the operating system refused a file, socket or process operation
  kInternal,          // an invariant broke; a bug
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: pipeline.yml:3:5: unknown key 'matirx' (did you mean 'matrix'?)"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a T or a non-OK Status. Accessing value() of an error is a programming error (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }

  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace edgefarm

// Propagates a non-OK Status from an expression returning Status.
#define EF_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::edgefarm::Status ef_status_ = (expr);      \
    if (!ef_status_.ok()) return ef_status_;     \
  } while (0)

#define EF_CONCAT_INNER_(a, b) a##b
#define EF_CONCAT_(a, b) EF_CONCAT_INNER_(a, b)

// `EF_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its Status.
#define EF_ASSIGN_OR_RETURN(lhs, expr) \
  EF_ASSIGN_OR_RETURN_IMPL_(EF_CONCAT_(ef_result_, __LINE__), lhs, expr)
#define EF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
