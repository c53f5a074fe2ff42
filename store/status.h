// Status and Result<T>: how errors cross module boundaries in xiaohao.
//
// No exceptions cross a module boundary. A function that can fail returns a
// [[nodiscard]] Status, or a Result<T> holding either a value or a non-OK
// Status. Exceptions thrown by third-party code (nlohmann::json, CLI11) are
// caught at the edge that meets them and converted here.
//
// A Status carries a stable code (for programs: the HTTP layer maps codes to
// statuses, the CLI to exit codes), a message for people that says what went
// wrong, where, and how to fix it, and an optional field (a JSON pointer or a
// column name) naming the offending input.
#ifndef XIAOHAO_STORE_STATUS_H_
#define XIAOHAO_STORE_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace xiaohao {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed; nothing was written
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // creation of something that exists
  kVersionConflict,     // optimistic concurrency: expected version mismatch
  kRejected,            // a workflow rule refused the command
  kPermissionDenied,    // role or jurisdiction does not allow it
  kUnauthenticated,     // no or bad credentials
  kFailedPrecondition,  // the system is not in a state to do this
  kCorruption,          // stored data fails its checks (hash chain, encoding)
  kIOError,             // the file system failed; writes are refused until reopen
  kReadOnly,            // the store was opened read-only or went read-only after a fault
  kUnimplemented,
  kInternal,
};

// Stable snake_case name of a code, used in JSON errors and logs.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg, std::string field = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(msg), std::move(field));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) {
    return Status(StatusCode::kCorruption, std::move(msg));
  }
  static Status IOError(std::string msg) { return Status(StatusCode::kIOError, std::move(msg)); }
  static Status ReadOnly(std::string msg) { return Status(StatusCode::kReadOnly, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }

  // "invalid_argument: <message> (field /payload/deadline)"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `, for adding
  // where an error happened on its way up.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    Status s(code_, context + ": " + message_, field_);
    s.actual_version_ = actual_version_;
    return s;
  }

  // For kVersionConflict: the stream's actual version when the append was
  // refused, so the caller (and a 409 answer) can say what it is now.
  static Status VersionConflict(std::string msg, uint64_t actual_version,
                                std::string field = {}) {
    Status s(StatusCode::kVersionConflict, std::move(msg), std::move(field));
    s.actual_version_ = actual_version;
    return s;
  }
  std::optional<uint64_t> actual_version() const { return actual_version_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
  std::optional<uint64_t> actual_version_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}       // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok() for a meaningful status; returns OK when a value is held.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define XH_CONCAT_INNER_(a, b) a##b
#define XH_CONCAT_(a, b) XH_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::xiaohao::Status xh_status_ = (expr);         \
    if (!xh_status_.ok()) return xh_status_;       \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, FunctionReturningResult());`
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(XH_CONCAT_(xh_result_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                           \
  if (!tmp.ok()) return tmp.status();           \
  lhs = std::move(tmp).value()

}  // namespace xiaohao

#endif  // XIAOHAO_STORE_STATUS_H_
