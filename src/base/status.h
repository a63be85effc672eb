// Status and Result<T>: the one error vocabulary of Touchpoint.
//
// A Status is either ok or carries a code and a message meant for a person: it names what was
// wrong and where (field, file:line:col, value). Result<T> is a value or a non-ok Status.
// Both are [[nodiscard]]; TP_TRY / TP_ASSIGN propagate errors up the stack.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace tp {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // user input is wrong: 400 / exit status 1
  kNotFound,          // the thing asked for does not exist: 404
  kUnauthenticated,   // missing or unknown key: 401
  kTooLarge,          // input over a documented limit: 413
  kUnavailable,       // temporary: retry may succeed (busy database, shutting down)
  kInternal,          // a bug or an environment failure (disk full, I/O error)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const Status& status() const { return *this; }  // lets TP_TRY take a Status or a Result

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {    // NOLINT: implicit by design
    assert(!std::get<Status>(v_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tp

// Propagates a non-ok Status (from a Status or a Result) to the caller.
#define TP_TRY(expr)                                     \
  do {                                                   \
    auto&& tp_try_ = (expr);                             \
    if (!tp_try_.is_ok()) return ::tp::Status(tp_try_.status()); \
  } while (0)

#define TP_CONCAT_INNER(a, b) a##b
#define TP_CONCAT(a, b) TP_CONCAT_INNER(a, b)
// TP_ASSIGN(auto x, make()): declares x from a Result, or returns its error.
#define TP_ASSIGN(decl, expr) TP_ASSIGN_IMPL(TP_CONCAT(tp_assign_, __LINE__), decl, expr)
#define TP_ASSIGN_IMPL(tmp, decl, expr)             \
  auto tmp = (expr);                                \
  if (!tmp.is_ok()) return ::tp::Status(tmp.status()); \
  decl = std::move(tmp).value()
