// SPDX-License-Identifier: MIT
// The component's XEP-0114 connection to its XMPP server, with everything needed to keep
// it up unattended: handshake, XEP-0356 privilege advertisement, reconnect with backoff,
// keepalive with dead-connection detection, a bounded write queue and a clean close.
//
// Threading: every member function must be called on the thread running `io`, and every
// Handler callback runs there. Callbacks may call send()/send_iq()/stop() but must not
// destroy the Connection. Destroying it closes the socket without a goodbye; use stop()
// first for a graceful shutdown.
//
// Lifecycle of one attempt:
//   kConnecting -> kHandshaking -> kAwaitingPrivileges -> kConnected
//   any failure -> on_disconnected(reason) -> kBackoff -> kConnecting ...
//   stop() -> kStopping (</stream:stream>, wait for the server's close) -> kStopped
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "plugin/xmpp/backoff.h"
#include "plugin/xmpp/config.h"
#include "plugin/xmpp/iq_tracker.h"
#include "plugin/log/log.h"
#include "plugin/xmpp/privileges.h"
#include "protocol/xml.h"

namespace rpsync::xmpp {

enum class State {
  kIdle,
  kConnecting,
  kHandshaking,
  kAwaitingPrivileges,
  kConnected,
  kBackoff,
  kStopping,
  kStopped,
};
std::string_view to_string(State s);

struct DisconnectReason {
  enum class Kind {
    kConnectFailed,   // TCP connect / resolve failed or timed out
    kStreamError,     // the server sent <stream:error/>; `condition` names it
    kProtocolError,   // the server's bytes were not a valid stream (malformed, too large, ...)
    kClosedByServer,  // </stream:stream> or TCP close without a stream error
    kNetworkError,    // read/write error
    kTimeout,         // handshake timeout or keepalive found the connection dead
    kStopped,         // stop() was called
  };
  Kind kind = Kind::kNetworkError;
  std::string condition;  // stream error condition ("conflict", "not-authorized", ...)
  std::string detail;     // what happened, for logs
  // True when the handshake had completed: stanzas may have been missed since, so the
  // engine must treat it as a continuity gap.
  bool was_authenticated = false;
};
std::string_view to_string(DisconnectReason::Kind k);

class Handler {
 public:
  virtual ~Handler() = default;
  // After <handshake/> and the privilege advertisement (or privilege_timeout without one).
  // `privileges` may be insufficient; Connection::ready() tells.
  virtual void on_connected(const Privileges& privileges) = 0;
  // Every end of a connection attempt, including failed attempts and stop().
  virtual void on_disconnected(const DisconnectReason& reason) = 0;
  // Every stanza after the handshake except privilege advertisements and answers to
  // send_iq()/keepalive requests; namespace jabber:component:accept.
  virtual void on_stanza(xml::Element stanza) = 0;
  // A privilege advertisement that arrived after on_connected().
  virtual void on_privileges_changed(const Privileges&) {}
  // A stanza over an incoming limit (bytes, depth, attributes; ComponentConfig) was
  // skipped (the stream goes on); `head` is its top element without children (name,
  // namespace, attributes), so the layer above can answer an IQ with an error or account
  // for a presence it could not read.
  virtual void on_skipped(xml::Element /*head*/, xml::SkipReason /*why*/) {}
};

class Connection {
 public:
  // `uniform01` feeds the backoff jitter (values in [0,1)); default: a seeded PRNG.
  Connection(asio::io_context& io, ComponentConfig config, Handler& handler, log::Logger& logger,
             std::function<double()> uniform01 = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts connecting (no-op unless kIdle or kStopped).
  void start();
  // Graceful close: writes </stream:stream>, waits up to close_timeout for the server's
  // close, then reports kStopped and calls `done` (also when already stopped).
  void stop(std::function<void()> done = {});

  // Queues a stanza in jabber:component:accept (an element with an empty namespace is
  // written without xmlns and so gets the stream's default). Never blocks, never grows
  // past write_queue_limit bytes: kQueueFull means the caller must drop or refuse.
  // Never writes a stanza over max_outgoing_stanza_size: kTooLarge.
  SendResult send(const xml::Element& stanza);
  // Sends an IQ and tracks its answer; see IqTracker. Pending requests fail with
  // the not-ready error (service-unavailable, wait) when the connection drops.
  void send_iq(xml::Element iq, Millis timeout, IqTracker::Callback cb);

  State state() const { return state_; }
  // kConnected and every required host (served_hosts, else every advertised host, at
  // least one) granted roster get + presence roster.
  bool ready() const;
  const Privileges& privileges() const { return privileges_; }
  // Largest stanza send() accepts, bytes (ComponentConfig::max_outgoing_stanza_size).
  std::size_t max_outgoing() const { return config_.max_outgoing_stanza_size; }
  // Stanza bytes accepted by send() and not yet written to the socket.
  std::size_t queued_bytes() const { return writing_stanza_bytes_ + pending_stanza_bytes_; }
  // Delay chosen for the most recent reconnect (for logs and tests).
  Millis last_backoff() const { return last_backoff_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool session_up() const {
    return state_ == State::kAwaitingPrivileges || state_ == State::kConnected ||
           state_ == State::kStopping;
  }
  // The parser's callbacks run inside feed(); once a callback ended the stream (fail()
  // or finish_stop()), the rest of that buffer must be ignored.
  bool stream_active() const { return state_ == State::kHandshaking || session_up(); }
  void connect();
  void on_tcp_connected();
  void read_loop();
  void on_bytes(std::size_t n);
  void on_stream_open(const xml::Element& root);
  void on_element(xml::Element e);
  void on_stream_close();
  void on_parse_error(const xml::ParseError& err);
  void on_skipped(xml::Element head, xml::SkipReason why);
  void on_advertisement(Advertisement ad);
  void become_connected();
  void keepalive_tick();
  void enqueue(std::string bytes, bool internal);
  void flush();
  void best_effort_write(const std::string& bytes);
  void fail(DisconnectReason reason);
  void finish_stop();
  void close_socket();
  void arm_phase(Millis after, void (Connection::*what)());
  void on_connect_timeout();
  void on_handshake_timeout();
  void on_privilege_timeout();
  void on_close_timeout();
  std::string ping_target() const;
  void log(log::Level level, std::string_view msg, std::initializer_list<log::Field> fields);

  asio::io_context& io_;
  ComponentConfig config_;
  Handler& handler_;
  log::Logger& logger_;
  Backoff backoff_;
  State state_ = State::kIdle;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer phase_timer_;
  asio::steady_timer keepalive_timer_;
  uint64_t gen_ = 0;          // bumped whenever the socket is closed: stale I/O handlers ignore
  uint64_t phase_token_ = 0;  // bumped whenever phase_timer_ is re-armed
  std::unique_ptr<xml::StreamParser> parser_;
  std::array<char, 16384> read_buf_{};
  std::string writing_;               // bytes handed to async_write
  std::string pending_out_;           // bytes queued behind it
  std::size_t writing_stanza_bytes_ = 0;  // stanza (not framing) bytes in writing_
  std::size_t pending_stanza_bytes_ = 0;  // ... and in pending_out_
  bool write_in_flight_ = false;
  Clock::time_point last_read_{};
  Clock::time_point last_write_{};
  bool ping_outstanding_ = false;
  uint64_t ping_counter_ = 0;
  Privileges privileges_;
  Millis last_backoff_{0};
  IqTracker iq_;
  std::function<void()> stop_done_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace rpsync::xmpp
