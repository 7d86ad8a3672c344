// SPDX-License-Identifier: MIT
#include "tests/harness/xml_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rpsync::test {

std::unique_ptr<XmlSocket> XmlSocket::connect(std::uint16_t port, bool nodelay, std::string* why) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (why) *why = std::string("connect failed: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  int one = 1;
  if (nodelay) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return std::unique_ptr<XmlSocket>(new XmlSocket(fd));
}

XmlSocket::XmlSocket(int fd) : fd_(fd) {
  parser_ = std::make_unique<xml::StreamParser>(
      xml::StreamParser::Callbacks{
          .on_open =
              [this](const xml::Element& root) {
                opened_ = true;
                if (auto id = root.attr("id")) stream_id_ = std::string(*id);
              },
          .on_element = [this](xml::Element e) { inbox_.push_back(std::move(e)); },
          .on_close = [this] { closed_ = true; },
          .on_error = [this](const xml::ParseError&) { closed_ = true; },
          .on_skipped = {},
      },
      // A client's own roster result of a large roster (20,000 items: ~1 MB) is read whole, as
      // the component reads its privileged one.
      xml::ParseLimits{.max_result_bytes = 64 * 1024 * 1024});
}

XmlSocket::~XmlSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool XmlSocket::send(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool XmlSocket::read_more(Millis timeout) {
  if (closed()) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  wire_bytes_ += static_cast<std::size_t>(n);
  parser_->feed(std::string_view(buf, static_cast<std::size_t>(n)));
  return true;
}

std::optional<xml::Element> XmlSocket::next(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (inbox_.empty()) {
    const auto left =
        std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed()) return std::nullopt;
    read_more(left);
  }
  xml::Element e = std::move(inbox_.front());
  inbox_.pop_front();
  return e;
}

std::optional<xml::Element> XmlSocket::wait_for(
    const std::function<bool(const xml::Element&)>& pred, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto e = next(left);
    if (!e) return std::nullopt;
    if (pred(*e)) return e;
  }
}

bool XmlSocket::wait_opened(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!opened_ && !closed() && std::chrono::steady_clock::now() < deadline)
    read_more(Millis(100));
  return opened_;
}

void XmlSocket::restart_stream() {
  parser_->reset();
  opened_ = false;
  inbox_.clear();
}

void XmlSocket::close(std::string_view last_words) {
  if (fd_ < 0) return;
  send(last_words);
  const auto deadline = std::chrono::steady_clock::now() + Millis(1000);
  while (!closed_ && std::chrono::steady_clock::now() < deadline) read_more(Millis(100));
  ::close(fd_);
  fd_ = -1;
}

void XmlSocket::abort() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace rpsync::test
