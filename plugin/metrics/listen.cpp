// SPDX-License-Identifier: MIT
#include "plugin/metrics/listen.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace rpsync::metrics {
namespace {

bool loopback_v4(const std::string& ip) {
  in_addr a{};
  return inet_pton(AF_INET, ip.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool loopback_v6(const std::string& ip) {
  in6_addr a{};
  return inet_pton(AF_INET6, ip.c_str(), &a) == 1 && std::memcmp(&a, &in6addr_loopback, 16) == 0;
}

bool valid_v4(const std::string& ip) {
  in_addr a{};
  return inet_pton(AF_INET, ip.c_str(), &a) == 1;
}

bool valid_v6(const std::string& ip) {
  in6_addr a{};
  return inet_pton(AF_INET6, ip.c_str(), &a) == 1;
}

}  // namespace

std::variant<ListenAddress, std::string> parse_listen(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return "'" + std::string(text) + "' is not ADDRESS:PORT (e.g. 127.0.0.1:9577 or [::1]:9577)";
  ListenAddress out;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
    return "'" + std::string(text) + "' has no valid port (1-65535)";
  out.port = static_cast<std::uint16_t>(p);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    out.ip = std::string(host.substr(1, host.size() - 2));
    out.v6 = true;
  } else {
    out.ip = std::string(host);
  }
  const bool valid = out.v6 ? valid_v6(out.ip) : valid_v4(out.ip);
  if (!valid)
    return "'" + std::string(text) +
           "' does not start with a numeric IP address (IPv6 in brackets: [::1]:9577)";
  const bool loopback = out.v6 ? loopback_v6(out.ip) : loopback_v4(out.ip);
  if (!loopback)
    return "'" + std::string(text) +
           "' is not a loopback address: the metrics endpoint has no authentication, so it "
           "listens on 127.0.0.0/8 or ::1 only (put a reverse proxy in front to expose it)";
  return out;
}

}  // namespace rpsync::metrics
