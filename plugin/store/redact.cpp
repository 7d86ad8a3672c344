// SPDX-License-Identifier: MIT
#include "plugin/store/redact.h"

namespace rpsync::store {

std::string redact_uri(std::string_view uri) {
  // The last '@' after "scheme://" ends the userinfo: a password typed unencoded may itself
  // hold '@', '/' or '?', so the userinfo is found before the path and the query are cut.
  const std::size_t scheme = uri.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t at = scheme == std::string_view::npos ? std::string_view::npos : uri.rfind('@');
  const bool has_userinfo = at != std::string_view::npos && at >= start;
  const std::size_t q = uri.find('?', has_userinfo ? at : 0);
  const std::string_view rest = uri.substr(0, q);
  std::string out;
  if (has_userinfo) {
    const std::string_view userinfo = uri.substr(start, at - start);
    const auto colon = userinfo.find(':');
    out = std::string(uri.substr(0, start)) +
          (colon == std::string_view::npos ? std::string("***")
                                           : std::string(userinfo.substr(0, colon)) + ":***") +
          std::string(rest.substr(at));
  } else {
    out = std::string(rest);
  }
  if (q != std::string_view::npos) out += "?...";
  return out;
}

}  // namespace rpsync::store
