// SPDX-License-Identifier: MIT
// TcpProxy on loopback: a cut drops the forwarded connection even when resume() follows
// at once (shorter than the proxy's poll), and the next connection is forwarded again.
#include "tests/harness/tcp_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace rpsync::test {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A listening socket on a free loopback port; its port in `port`.
int listener(std::uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd, 4) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(port);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

// A connection accepted on `fd` within `ms` (-1: none).
int accepts(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return -1;
  return ::accept(fd, nullptr, nullptr);
}

// What a recv on `fd` sees within `ms`: bytes (> 0), the peer's close (0), nothing (-1).
ssize_t receives(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return -1;
  char buf[64];
  return ::recv(fd, buf, sizeof buf, 0);
}

TEST(TcpProxy, ShortCutDropsTheConnectionAndTheNextOneIsForwarded) {
  std::uint16_t upstream_port = 0;
  const int upstream = listener(&upstream_port);
  ASSERT_GE(upstream, 0);
  std::string why;
  auto proxy = TcpProxy::start(upstream_port, &why);
  ASSERT_TRUE(proxy) << why;

  const int client = connect_to(proxy->port());
  ASSERT_GE(client, 0);
  const int server_side = accepts(upstream, 2000);
  ASSERT_GE(server_side, 0);
  ASSERT_EQ(::send(server_side, "hi", 2, 0), 2);
  EXPECT_EQ(receives(client, 2000), 2) << "forwarded before the cut";

  proxy->cut();
  proxy->resume();  // at once: shorter than the proxy's 100 ms poll
  EXPECT_EQ(receives(client, 2000), 0) << "the cut closed the client's leg";
  EXPECT_EQ(receives(server_side, 2000), 0) << "the cut closed the upstream leg";

  const int again = connect_to(proxy->port());
  ASSERT_GE(again, 0);
  const int server_again = accepts(upstream, 2000);
  ASSERT_GE(server_again, 0) << "the proxy forwards the next connection";
  ASSERT_EQ(::send(again, "yo", 2, 0), 2);
  EXPECT_EQ(receives(server_again, 2000), 2) << "forwarded after resume()";
  EXPECT_EQ(proxy->connections(), 2u);
  for (int fd : {client, server_side, again, server_again, upstream}) ::close(fd);
}

}  // namespace
}  // namespace rpsync::test
