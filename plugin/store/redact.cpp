// SPDX-License-Identifier: MIT
#include "plugin/store/redact.h"

namespace rpsync::store {

std::string redact_uri(std::string_view uri) {
  std::string out;
  std::string_view rest = uri;
  if (auto q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = rest.find('/', start);
    std::string_view authority =
        rest.substr(start, end == std::string_view::npos ? end : end - start);
    // The last '@' ends the userinfo (a password may itself contain '@').
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      auto colon = userinfo.find(':');
      out = std::string(rest.substr(0, start)) +
            (colon == std::string_view::npos ? std::string("***")
                                             : std::string(userinfo.substr(0, colon)) + ":***") +
            std::string(rest.substr(start + at));
    }
  }
  if (out.empty()) out = std::string(rest);
  if (rest.size() < uri.size()) out += "?...";
  return out;
}

}  // namespace rpsync::store
