// SPDX-License-Identifier: MIT
// Text edits of the bench programs (patching a server's generated config).
#pragma once

#include <string>

namespace rpsync::bench {

// `s` with every `from` replaced by `to`.
inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

}  // namespace rpsync::bench
