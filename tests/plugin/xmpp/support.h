// SPDX-License-Identifier: MIT
// Shared pieces of the xmpp tests: a Handler that records events, a Logger that keeps
// lines, and a bounded io_context pump.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "plugin/xmpp/connection.h"
#include "plugin/log/log.h"

namespace rpsync::xmpp::testing {

struct RecordingHandler : Handler {
  std::vector<Privileges> connected;
  std::vector<DisconnectReason> disconnected;
  std::vector<xml::Element> stanzas;
  std::vector<xml::Element> oversized;
  std::function<void(const xml::Element&)> on_each_stanza;

  void on_connected(const Privileges& p) override { connected.push_back(p); }
  void on_disconnected(const DisconnectReason& r) override { disconnected.push_back(r); }
  void on_stanza(xml::Element s) override {
    if (on_each_stanza) on_each_stanza(s);
    stanzas.push_back(std::move(s));
  }
  void on_skipped(xml::Element head, xml::SkipReason) override {
    oversized.push_back(std::move(head));
  }
};

class CapturingLogger : public log::Logger {
 public:
  void write(log::Level level, std::string_view component, std::string_view message,
             std::initializer_list<log::Field> fields) override {
    std::lock_guard lock(mutex_);
    lines_.push_back(log::format(level, component, message, fields));
  }
  bool contains(std::string_view needle) const {
    std::lock_guard lock(mutex_);
    for (const auto& l : lines_)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
  std::string all() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Runs `io` until `done()` holds or `timeout` passes; returns done().
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_for(std::chrono::milliseconds(5));
    if (io.stopped()) io.restart();
  }
  return true;
}

// Runs `io` for `d` regardless.
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  run_until(io, [] { return false; }, d);
}

}  // namespace rpsync::xmpp::testing
