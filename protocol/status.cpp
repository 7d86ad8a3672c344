// SPDX-License-Identifier: MIT
#include "status.h"

namespace rpsync {

std::string_view to_string(StatusCode c) {
  switch (c) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid-argument";
    case StatusCode::kNotFound:
      return "not-found";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kTimeout:
      return "timeout";
    case StatusCode::kIoError:
      return "io-error";
    case StatusCode::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

std::string Status::to_string() const {
  std::string out(rpsync::to_string(code_));
  if (!message_.empty()) out += ": " + message_;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  return {code_, std::string(context) + ": " + message_};
}

}  // namespace rpsync
