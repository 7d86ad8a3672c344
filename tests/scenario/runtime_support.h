// SPDX-License-Identifier: MIT
// Helpers of the runtime scenarios (systemd notifications, reload, metrics): a unix
// datagram socket standing in for systemd's NOTIFY_SOCKET, a plain HTTP GET on loopback,
// and reading one sample out of OpenMetrics text. Not thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace rpsync::test::scenario {

// Receives what the component sends with sd_notify(); every datagram is kept in order.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof a.sun_path - 1);
    ::unlink(path.c_str());
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  // Collects datagrams until one contains `needle` (true) or `timeout` passed (false).
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    if (seen(needle)) return true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      messages_.emplace_back(buf, static_cast<std::size_t>(n));
      if (messages_.back().find(needle) != std::string::npos) return true;
    }
    return false;
  }
  bool seen(const std::string& needle) const {
    for (const auto& m : messages_)
      if (m.find(needle) != std::string::npos) return true;
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& m : messages_) out += "[" + m + "]\n";
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  std::vector<std::string> messages_;
};

// GET http://127.0.0.1:port/path; the whole response (status line, headers, body), or ""
// when nothing answered within 5 s.
inline std::string http_get(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

// The value of the sample whose line starts with `series` followed by a space (e.g.
// `rpsync_syncs_total{outcome="empty"}`), nullopt when absent.
inline std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// The value of `key=` in the last log line holding `message` (e.g. "sync.delta"), or "".
inline std::string log_field(const std::string& log, const std::string& message,
                             const std::string& key) {
  std::istringstream lines(log);
  std::string found;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" " + message + " ") == std::string::npos &&
        !line.ends_with(" " + message))
      continue;
    const auto at = line.find(" " + key + "=");
    if (at == std::string::npos) continue;
    const auto start = at + key.size() + 2;
    found = line.substr(start, line.find(' ', start) - start);
  }
  return found;
}

}  // namespace rpsync::test::scenario
