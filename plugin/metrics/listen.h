// SPDX-License-Identifier: MIT
// The metrics endpoint's listen address, "IPV4:PORT" or "[IPV6]:PORT". Only loopback
// addresses (127.0.0.0/8, ::1) are accepted: the endpoint has no authentication, so it is
// for a scraper on the same machine (or a reverse proxy that adds what is needed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace rpsync::metrics {

struct ListenAddress {
  std::string ip;  // numeric, without brackets
  std::uint16_t port = 0;
  bool v6 = false;
};

// A parsed address, or the reason it is refused (for a config error message).
std::variant<ListenAddress, std::string> parse_listen(std::string_view text);

}  // namespace rpsync::metrics
