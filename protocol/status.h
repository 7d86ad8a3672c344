// SPDX-License-Identifier: MIT
// The one error vocabulary for I/O (stores, feed, codecs, client state files): a plain
// Status, or StatusOr<T> for a value or the Status that explains its absence. It knows
// nothing of XMPP; only where the component answers a stanza does a Status become a
// StanzaError (to_stanza_error in error.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace rpsync {

enum class StatusCode : std::uint8_t {
  kOk,
  kInvalidArgument,  // the caller's input (a URI, a config value) cannot be used
  kUnavailable,      // the backend is down, unreachable or not ready: retry later
  kTimeout,          // the backend did not answer within the configured time
  kIoError,          // the backend refused or failed the operation (disk full, SQL error)
  kCorrupt,          // what is stored cannot be read back (checksum, codec, integrity)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status invalid_argument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value, or the (non-ok) Status saying why there is none.
template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  // The error; an ok Status when a value is held.
  Status status() const { return ok() ? Status{} : std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace rpsync
