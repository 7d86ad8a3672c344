// SPDX-License-Identifier: MIT
#include "client_strophe/session_id.h"

#include <openssl/rand.h>

#include <array>

namespace rpsync::strophe {

std::string random_session_id() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(2 * bytes.size());
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

}  // namespace rpsync::strophe
