// SPDX-License-Identifier: MIT
// rpsync_strophe_connect_client turns Nagle's algorithm off on the client's socket
// (options.tcp_nodelay, the default), and leaves it on when the application says so. The
// socket is found as the one that appeared in /proc/self/fd, connected to Prosody's c2s
// port, during the login.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <filesystem>
#include <set>

#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

// Descriptors of this process's TCP sockets connected to loopback `port`.
std::set<int> sockets_to(std::uint16_t port) {
  std::set<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    try {
      fd = std::stoi(e.path().filename().string());
    } catch (...) {
      continue;
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    if (peer.ss_family == AF_INET && ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port) == port)
      out.insert(fd);
  }
  return out;
}

// TCP_NODELAY of the one socket to `port` that is not in `before`; -1 when not exactly one.
int nodelay_of_new_socket(const std::set<int>& before, std::uint16_t port) {
  int found = -1, count = 0;
  for (int fd : sockets_to(port))
    if (!before.count(fd)) {
      found = fd;
      ++count;
    }
  if (count != 1) return -1;
  int v = -1;
  socklen_t len = sizeof v;
  if (::getsockopt(found, IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0) return -1;
  return v != 0 ? 1 : 0;
}

class StropheNagle : public StropheWorld {};

TEST_F(StropheNagle, ConnectClientTurnsNagleOffByDefault) {
  const std::set<int> before = sockets_to(port());
  auto a = alice();
  ASSERT_TRUE(a->login()) << events_of(*a);
  EXPECT_EQ(nodelay_of_new_socket(before, port()), 1);
}

TEST_F(StropheNagle, TcpNodelayZeroLeavesTheSocketAlone) {
  const std::set<int> before = sockets_to(port());
  ClientOptions o;
  o.full_jid = std::string(kAlice) + "/laptop";
  o.port = port();
  o.tune = [](rpsync_strophe_options_t& opt) { opt.tcp_nodelay = 0; };
  RpsyncClient a(std::move(o));
  ASSERT_TRUE(a.login()) << events_of(a);
  EXPECT_EQ(nodelay_of_new_socket(before, port()), 0) << "control: Nagle is on by default";
}

}  // namespace
}  // namespace rpsync::test::strophe
