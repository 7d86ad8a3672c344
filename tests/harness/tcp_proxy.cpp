// SPDX-License-Identifier: MIT
#include "tests/harness/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rpsync::test {
namespace {

void nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool write_all(int fd, const char* p, std::size_t n) {
  for (int tries = 0; n > 0 && tries < 100000; ++tries) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return n == 0;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

}  // namespace

std::unique_ptr<TcpProxy> TcpProxy::start(std::uint16_t upstream, std::string* why,
                                          Observer observer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd, 4) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (why) *why = std::string("proxy: cannot listen on 127.0.0.1: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, ntohs(a.sin_port), upstream, std::move(observer)));
}

TcpProxy::TcpProxy(int listen_fd, std::uint16_t port, std::uint16_t upstream, Observer observer)
    : listen_(listen_fd), port_(port), upstream_(upstream), observer_(std::move(observer)) {
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  thread_.join();
  ::close(listen_);
}

void TcpProxy::run() {
  while (!stop_) {
    pollfd l{listen_, POLLIN, 0};
    if (::poll(&l, 1, 100) <= 0) continue;
    const int c = ::accept(listen_, nullptr, nullptr);
    if (c < 0) continue;
    const std::uint64_t cuts = cuts_.load();  // a cut() from now on drops this connection
    if (cut_) {
      ::close(c);
      continue;
    }
    const int u = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(upstream_);
    if (u < 0 || ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      if (u >= 0) ::close(u);
      ::close(c);
      continue;
    }
    nodelay(c);
    nodelay(u);
    ++connections_;
    pump(c, u, cuts);
    ::close(c);
    ::close(u);
  }
}

// Until a cut() after `cuts` (a cut shorter than one poll below is not missed), a stop or
// either side closing.
void TcpProxy::pump(int c, int u, std::uint64_t cuts) {
  char buf[65536];
  while (!stop_ && !cut_ && cuts_.load() == cuts) {
    pollfd fds[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
    if (::poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      const auto bytes = static_cast<std::size_t>(n);
      if (i == 1) down_ += bytes;
      if (observer_) observer_(i == 1, bytes);
      if (!write_all(i == 0 ? u : c, buf, bytes)) return;
    }
  }
}

}  // namespace rpsync::test
