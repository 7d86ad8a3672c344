// SPDX-License-Identifier: MIT
// Outcome of a persistence operation, shared by SessionStore and RosterCache.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace rpsync::client {

struct StoreStatus {
  enum class Code : std::uint8_t { kOk, kIoError, kCorrupt };
  Code code = Code::kOk;
  std::string message;
  bool ok() const { return code == Code::kOk; }
  static StoreStatus io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
  static StoreStatus corrupt(std::string m) { return {Code::kCorrupt, std::move(m)}; }
};

}  // namespace rpsync::client
