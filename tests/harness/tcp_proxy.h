// SPDX-License-Identifier: MIT
// A loopback TCP proxy to 127.0.0.1:upstream for tests and benchmarks: one connection at a
// time (one client, or one component), TCP_NODELAY on both legs so it adds no Nagle delay
// of its own. Counts the bytes each way, and can cut the connection and refuse new ones:
// a network outage the test controls.
//
// Threading: one thread of its own forwards; every method may be called from any thread.
// The observer runs on the proxy's thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace rpsync::test {

class TcpProxy {
 public:
  // `down`: bytes from upstream to the client; else from the client to upstream.
  using Observer = std::function<void(bool down, std::size_t bytes)>;
  // Listens on 127.0.0.1 (a free port); nullptr with `why` when it cannot.
  static std::unique_ptr<TcpProxy> start(std::uint16_t upstream, std::string* why,
                                         Observer observer = {});
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t down() const { return down_.load(); }  // upstream -> client, since reset()
  void reset() { down_ = 0; }
  // Drops the current connection (both legs closed) and closes every new one at once
  // until resume(). The connection is dropped even when resume() follows at once.
  void cut() {
    cut_ = true;
    ++cuts_;
  }
  void resume() { cut_ = false; }
  std::uint64_t connections() const { return connections_.load(); }  // forwarded so far

 private:
  TcpProxy(int listen_fd, std::uint16_t port, std::uint16_t upstream, Observer observer);
  void run();
  void pump(int client, int upstream, std::uint64_t cuts);

  int listen_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t upstream_ = 0;
  Observer observer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::atomic<std::uint64_t> cuts_{0};  // cut() calls: a pump started before one stops
  std::atomic<std::uint64_t> down_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::thread thread_;
};

}  // namespace rpsync::test
