// SPDX-License-Identifier: MIT
#include "plugin/xmpp/connection.h"

#include <algorithm>
#include <asio/connect.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <random>

#include "plugin/xmpp/quick_ack.h"
#include "plugin/xmpp/stream.h"
#include "protocol/ns.h"

namespace rpsync::xmpp {
namespace {

constexpr std::string_view kLog = "xmpp";
constexpr std::string_view kPingPrefix = "rpsync-ka-";

std::function<double()> default_random() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

std::string ms(Millis m) {
  return std::to_string(m.count());
}

}  // namespace

std::string_view to_string(State s) {
  switch (s) {
    case State::kIdle:
      return "idle";
    case State::kConnecting:
      return "connecting";
    case State::kHandshaking:
      return "handshaking";
    case State::kAwaitingPrivileges:
      return "awaiting-privileges";
    case State::kConnected:
      return "connected";
    case State::kBackoff:
      return "backoff";
    case State::kStopping:
      return "stopping";
    case State::kStopped:
      return "stopped";
  }
  return "?";
}

std::string_view to_string(DisconnectReason::Kind k) {
  using K = DisconnectReason::Kind;
  switch (k) {
    case K::kConnectFailed:
      return "connect-failed";
    case K::kStreamError:
      return "stream-error";
    case K::kProtocolError:
      return "protocol-error";
    case K::kClosedByServer:
      return "closed-by-server";
    case K::kNetworkError:
      return "network-error";
    case K::kTimeout:
      return "timeout";
    case K::kStopped:
      return "stopped";
  }
  return "?";
}

Connection::Connection(asio::io_context& io, ComponentConfig config, Handler& handler,
                       log::Logger& logger, std::function<double()> uniform01)
    : io_(io),
      config_(std::move(config)),
      handler_(handler),
      logger_(logger),
      backoff_(config_.backoff_min, config_.backoff_max,
               uniform01 ? std::move(uniform01) : default_random()),
      resolver_(io),
      socket_(io),
      phase_timer_(io),
      keepalive_timer_(io),
      iq_(
          io, [this](const xml::Element& e) { return send(e); }, "rpsync-iq-") {}

Connection::~Connection() {
  alive_.reset();
  std::error_code ec;
  resolver_.cancel();
  socket_.close(ec);
}

void Connection::log(log::Level level, std::string_view msg,
                     std::initializer_list<log::Field> fields) {
  logger_.write(level, kLog, msg, fields);
}

void Connection::start() {
  if (state_ != State::kIdle && state_ != State::kStopped) return;
  connect();
}

void Connection::arm_phase(Millis after, void (Connection::*what)()) {
  uint64_t token = ++phase_token_;
  phase_timer_.expires_after(after);
  std::weak_ptr<char> alive = alive_;
  phase_timer_.async_wait([this, alive, token, what](const std::error_code& ec) {
    if (ec || alive.expired() || token != phase_token_) return;
    (this->*what)();
  });
}

void Connection::connect() {
  state_ = State::kConnecting;
  privileges_ = {};
  log(log::Level::kInfo, "connection.connecting",
      {{"host", config_.host},
       {"port", std::to_string(config_.port)},
       {"component", config_.component_jid}});
  arm_phase(config_.connect_timeout, &Connection::on_connect_timeout);
  uint64_t gen = gen_;
  std::weak_ptr<char> alive = alive_;
  resolver_.async_resolve(
      config_.host, std::to_string(config_.port),
      [this, alive, gen](const std::error_code& ec, asio::ip::tcp::resolver::results_type r) {
        if (alive.expired() || gen != gen_ || state_ != State::kConnecting) return;
        if (ec) {
          fail({DisconnectReason::Kind::kConnectFailed, "", "resolve: " + ec.message(), false});
          return;
        }
        asio::async_connect(socket_, r,
                            [this, alive, gen](const std::error_code& ec2, const auto&) {
                              if (alive.expired() || gen != gen_ || state_ != State::kConnecting)
                                return;
                              if (ec2) {
                                fail({DisconnectReason::Kind::kConnectFailed, "",
                                      "connect: " + ec2.message(), false});
                                return;
                              }
                              on_tcp_connected();
                            });
      });
}

void Connection::on_connect_timeout() {
  if (state_ != State::kConnecting) return;
  fail({DisconnectReason::Kind::kConnectFailed, "",
        "connect timed out after " + ms(config_.connect_timeout) + " ms", false});
}

void Connection::on_tcp_connected() {
  state_ = State::kHandshaking;
  std::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  request_quick_ack(socket_.native_handle());
  xml::ParseLimits limits;
  limits.max_element_bytes = config_.max_stanza_size;
  limits.max_result_bytes = config_.max_result_size;
  limits.max_depth = config_.max_depth;
  limits.max_attributes = config_.max_attributes;
  parser_ = std::make_unique<xml::StreamParser>(
      xml::StreamParser::Callbacks{
          .on_open = [this](const xml::Element& root) { on_stream_open(root); },
          .on_element = [this](xml::Element e) { on_element(std::move(e)); },
          .on_close = [this] { on_stream_close(); },
          .on_error = [this](const xml::ParseError& err) { on_parse_error(err); },
          .on_skipped = [this](xml::Element head,
                               xml::SkipReason why) { on_skipped(std::move(head), why); },
      },
      limits);
  last_read_ = last_write_ = Clock::now();
  arm_phase(config_.handshake_timeout, &Connection::on_handshake_timeout);
  enqueue(stream_header(config_.component_jid), true);
  read_loop();
}

void Connection::on_handshake_timeout() {
  if (state_ != State::kHandshaking) return;
  fail({DisconnectReason::Kind::kTimeout, "",
        "no handshake reply within " + ms(config_.handshake_timeout) + " ms", false});
}

void Connection::read_loop() {
  uint64_t gen = gen_;
  std::weak_ptr<char> alive = alive_;
  socket_.async_read_some(asio::buffer(read_buf_), [this, alive, gen](const std::error_code& ec,
                                                                      std::size_t n) {
    if (alive.expired() || gen != gen_) return;
    if (ec) {
      if (state_ == State::kStopping) {
        finish_stop();
      } else if (ec == asio::error::eof) {
        fail({DisconnectReason::Kind::kClosedByServer, "", "server closed the TCP connection",
              session_up()});
      } else {
        fail({DisconnectReason::Kind::kNetworkError, "", "read: " + ec.message(), session_up()});
      }
      return;
    }
    on_bytes(n);
  });
}

void Connection::on_bytes(std::size_t n) {
  uint64_t gen = gen_;
  last_read_ = Clock::now();
  ping_outstanding_ = false;
  request_quick_ack(socket_.native_handle());  // the kernel may have cleared it
  // The parser's callbacks may end this connection (fail() closes the socket and bumps
  // gen_); the rest of the buffer then belongs to a dead stream and is ignored there.
  parser_->feed(std::string_view(read_buf_.data(), n));
  if (gen == gen_) read_loop();
}

void Connection::on_stream_open(const xml::Element& root) {
  if (state_ != State::kHandshaking) return;
  if (!root.is("stream", ns::kStreams)) {
    best_effort_write(stream_error_bytes("invalid-namespace"));
    fail({DisconnectReason::Kind::kProtocolError, "",
          "server's stream root is <" + root.name() + "/> in '" + root.ns() + "'", false});
    return;
  }
  auto id = root.attr("id");
  if (!id || id->empty()) {
    // Prosody refusing a stream (e.g. host-unknown) sends a header without id and then
    // the <stream:error/>: wait for it (bounded by handshake_timeout) to report the cause.
    log(log::Level::kWarn, "stream.header_without_id", {});
    return;
  }
  xml::Element hs("handshake", std::string(ns::kComponent));
  hs.set_text(handshake_digest(*id, config_.secret));
  enqueue(xml::to_string(hs, ns::kComponent), true);
}

void Connection::on_element(xml::Element e) {
  if (!stream_active()) return;
  if (e.is("error", ns::kStreams)) {
    StreamError err = parse_stream_error(e);
    std::string why = explain(err, config_.component_jid);
    log(log::Level::kError, "stream.error_received",
        {{"condition", err.condition}, {"text", err.text}, {"meaning", why}});
    fail({DisconnectReason::Kind::kStreamError, err.condition, why, session_up()});
    return;
  }
  if (state_ == State::kHandshaking) {
    if (!e.is("handshake", ns::kComponent)) {
      best_effort_write(stream_error_bytes("undefined-condition"));
      fail({DisconnectReason::Kind::kProtocolError, "",
            "expected <handshake/>, got <" + e.name() + "/>", false});
      return;
    }
    backoff_.reset();
    state_ = State::kAwaitingPrivileges;
    log(log::Level::kInfo, "handshake.accepted", {{"component", config_.component_jid}});
    arm_phase(config_.privilege_timeout, &Connection::on_privilege_timeout);
    keepalive_tick();
    return;
  }
  if (auto ad = parse_advertisement(e)) {
    on_advertisement(std::move(*ad));
    return;
  }
  if (e.name() == "iq" && e.attr("id").value_or("").starts_with(kPingPrefix) &&
      (e.attr("type") == "result" || e.attr("type") == "error"))
    return;  // keepalive answer; any data already counted as liveness
  if (iq_.handle(e)) return;
  if (e.ns() != ns::kComponent) {
    log(log::Level::kWarn, "stream.non_stanza_ignored", {{"element", e.name()}, {"ns", e.ns()}});
    return;
  }
  handler_.on_stanza(std::move(e));
}

void Connection::on_advertisement(Advertisement ad) {
  // Over s2s any domain can address a <message/> to the component; only the served
  // hosts' own advertisements count.
  if (!config_.served_hosts.empty() &&
      std::find(config_.served_hosts.begin(), config_.served_hosts.end(), ad.host) ==
          config_.served_hosts.end()) {
    log(log::Level::kWarn, "privileges.foreign_host_ignored", {{"host", ad.host}});
    return;
  }
  const HostPrivileges& p = privileges_.hosts[ad.host] = ad.privileges;
  log(log::Level::kInfo, "privileges.advertised",
      {{"host", ad.host},
       {"ns", p.ns},
       {"roster", std::string(to_string(p.roster))},
       {"presence", std::string(to_string(p.presence))}});
  if (!p.sufficient())
    log(log::Level::kError, "privileges.insufficient",
        {{"host", ad.host}, {"fix", missing_config(config_.component_jid, ad.host, &p)}});
  if (state_ == State::kAwaitingPrivileges) {
    for (const auto& h : config_.served_hosts)
      if (!privileges_.has(h)) return;  // wait for the others (bounded by privilege_timeout)
    become_connected();
  } else if (state_ == State::kConnected) {
    handler_.on_privileges_changed(privileges_);
  }
}

void Connection::on_privilege_timeout() {
  if (state_ != State::kAwaitingPrivileges) return;
  if (privileges_.hosts.empty() && config_.served_hosts.empty()) {
    log(log::Level::kError, "privileges.missing",
        {{"waited_ms", ms(config_.privilege_timeout)},
         {"fix", missing_config(config_.component_jid, "<each served host>", nullptr)}});
  }
  for (const auto& h : config_.served_hosts)
    if (!privileges_.has(h))
      log(log::Level::kError, "privileges.missing",
          {{"host", h},
           {"waited_ms", ms(config_.privilege_timeout)},
           {"fix", missing_config(config_.component_jid, h, nullptr)}});
  become_connected();
}

void Connection::become_connected() {
  ++phase_token_;
  phase_timer_.cancel();
  state_ = State::kConnected;
  log(ready() ? log::Level::kInfo : log::Level::kWarn, "connection.established",
      {{"component", config_.component_jid}, {"ready", ready() ? "true" : "false"}});
  handler_.on_connected(privileges_);
}

bool Connection::ready() const {
  if (state_ != State::kConnected) return false;
  if (!config_.served_hosts.empty()) {
    for (const auto& h : config_.served_hosts)
      if (!privileges_.sufficient_for(h)) return false;
    return true;
  }
  if (privileges_.hosts.empty()) return false;
  for (const auto& [h, p] : privileges_.hosts)
    if (!p.sufficient()) return false;
  return true;
}

std::string Connection::ping_target() const {
  if (!config_.ping_target.empty()) return config_.ping_target;
  if (!config_.served_hosts.empty()) return config_.served_hosts.front();
  auto dot = config_.component_jid.find('.');
  return dot == std::string::npos ? config_.component_jid : config_.component_jid.substr(dot + 1);
}

void Connection::keepalive_tick() {
  // Not while stopping: nothing may follow our </stream:stream>, and close_timeout bounds it.
  if (state_ != State::kAwaitingPrivileges && state_ != State::kConnected) return;
  auto now = Clock::now();
  auto interval = config_.keepalive_interval;
  auto idle_read = std::chrono::duration_cast<Millis>(now - last_read_);
  if (idle_read >= interval + config_.ping_timeout) {
    fail({DisconnectReason::Kind::kTimeout, "",
          "no data from the server for " + ms(idle_read) + " ms (keepalive)", true});
    return;
  }
  if (idle_read >= interval && !ping_outstanding_) {
    xml::Element ping("iq", std::string(ns::kComponent));
    ping.set_attr("type", "get");
    ping.set_attr("id", std::string(kPingPrefix) + std::to_string(++ping_counter_));
    ping.set_attr("from", config_.component_jid);
    ping.set_attr("to", ping_target());
    ping.add(xml::Element("ping", std::string(ns::kPing)));
    enqueue(xml::to_string(ping, ns::kComponent), true);
    ping_outstanding_ = true;
  } else if (now - last_write_ >= interval) {
    enqueue(" ", true);  // whitespace keepalive (RFC 6120 §4.6.1)
  }
  keepalive_timer_.expires_after(std::max(Millis(10), interval / 2));
  uint64_t gen = gen_;
  std::weak_ptr<char> alive = alive_;
  keepalive_timer_.async_wait([this, alive, gen](const std::error_code& ec) {
    if (ec || alive.expired() || gen != gen_) return;
    keepalive_tick();
  });
}

SendResult Connection::send(const xml::Element& stanza) {
  if (state_ != State::kAwaitingPrivileges && state_ != State::kConnected)
    return SendResult::kNotConnected;
  // An element built without a namespace takes the stream's default (no xmlns='' written).
  std::string bytes = xml::to_string(stanza, stanza.ns().empty() ? "" : ns::kComponent);
  if (bytes.size() > config_.max_outgoing_stanza_size) {
    log(log::Level::kWarn, "send.too_big",
        {{"element", stanza.name()},
         {"stanza_bytes", std::to_string(bytes.size())},
         {"limit", std::to_string(config_.max_outgoing_stanza_size)}});
    return SendResult::kTooLarge;
  }
  if (queued_bytes() + bytes.size() > config_.write_queue_limit) {
    log(log::Level::kWarn, "send.queue_full",
        {{"queued_bytes", std::to_string(queued_bytes())},
         {"stanza_bytes", std::to_string(bytes.size())}});
    return SendResult::kQueueFull;
  }
  enqueue(std::move(bytes), false);
  return SendResult::kQueued;
}

void Connection::send_iq(xml::Element iq, Millis timeout, IqTracker::Callback cb) {
  if (!iq.attr("from")) iq.set_attr("from", config_.component_jid);
  iq_.request(std::move(iq), timeout, std::move(cb));
}

void Connection::enqueue(std::string bytes, bool internal) {
  // Only stanzas count against write_queue_limit; stream framing and keepalives are tiny.
  if (!internal) pending_stanza_bytes_ += bytes.size();
  pending_out_ += bytes;
  flush();
}

void Connection::flush() {
  if (write_in_flight_ || pending_out_.empty()) return;
  writing_ = std::move(pending_out_);
  pending_out_.clear();
  writing_stanza_bytes_ = pending_stanza_bytes_;
  pending_stanza_bytes_ = 0;
  write_in_flight_ = true;
  uint64_t gen = gen_;
  std::weak_ptr<char> alive = alive_;
  asio::async_write(socket_, asio::buffer(writing_),
                    [this, alive, gen](const std::error_code& ec, std::size_t) {
                      if (alive.expired() || gen != gen_) return;
                      write_in_flight_ = false;
                      writing_stanza_bytes_ = 0;
                      writing_.clear();
                      if (ec) {
                        if (state_ == State::kStopping) {
                          finish_stop();
                        } else {
                          fail({DisconnectReason::Kind::kNetworkError, "", "write: " + ec.message(),
                                session_up()});
                        }
                        return;
                      }
                      last_write_ = Clock::now();
                      flush();
                    });
}

void Connection::best_effort_write(const std::string& bytes) {
  // A goodbye to a peer we are about to drop: one non-blocking attempt, errors ignored.
  // (If an async write is still partly unsent the bytes may interleave; the stream is
  // being abandoned either way, and usually the earlier write is already in the kernel.)
  std::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.write_some(asio::buffer(bytes), ec);
}

void Connection::on_parse_error(const xml::ParseError& err) {
  if (!stream_active()) return;
  bool too_big = err.message.find("larger than") != std::string::npos;
  best_effort_write(stream_error_bytes(too_big ? "policy-violation" : "not-well-formed"));
  log(log::Level::kError, "stream.invalid_data", {{"error", err.message}});
  if (state_ == State::kStopping) {
    finish_stop();
    return;
  }
  fail({DisconnectReason::Kind::kProtocolError, too_big ? "policy-violation" : "not-well-formed",
        err.message, session_up()});
}

void Connection::on_skipped(xml::Element head, xml::SkipReason why) {
  if (!session_up()) return;
  log(log::Level::kWarn, "stream.stanza_skipped",
      {{"element", head.name()},
       {"from", std::string(head.attr("from").value_or(""))},
       {"id", std::string(head.attr("id").value_or("")).substr(0, 256)},
       {"limit", std::string(xml::to_string(why))}});
  handler_.on_skipped(std::move(head), why);
}

void Connection::on_stream_close() {
  if (!stream_active()) return;
  if (state_ == State::kStopping) {
    finish_stop();
    return;
  }
  best_effort_write(std::string(kStreamClose));
  fail({DisconnectReason::Kind::kClosedByServer, "", "server closed the stream", session_up()});
}

void Connection::close_socket() {
  ++gen_;
  ++phase_token_;
  std::error_code ec;
  resolver_.cancel();
  phase_timer_.cancel();
  keepalive_timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  write_in_flight_ = false;
  writing_.clear();
  pending_out_.clear();
  writing_stanza_bytes_ = pending_stanza_bytes_ = 0;
  ping_outstanding_ = false;
}

void Connection::fail(DisconnectReason reason) {
  if (state_ == State::kStopping) {
    finish_stop();
    return;
  }
  close_socket();
  last_backoff_ = backoff_.next();
  state_ = State::kBackoff;
  log(reason.kind == DisconnectReason::Kind::kStreamError ||
              reason.kind == DisconnectReason::Kind::kProtocolError
          ? log::Level::kError
          : log::Level::kWarn,
      "disconnected",
      {{"reason", std::string(to_string(reason.kind))},
       {"condition", reason.condition},
       {"detail", reason.detail},
       {"was_authenticated", reason.was_authenticated ? "true" : "false"},
       {"retry_in_ms", ms(last_backoff_)}});
  iq_.fail_all(proto::make_error(proto::AppCondition::kNotReady, "component connection lost"));
  arm_phase(last_backoff_, &Connection::connect);
  handler_.on_disconnected(reason);
}

void Connection::stop(std::function<void()> done) {
  stop_done_ = std::move(done);
  switch (state_) {
    case State::kAwaitingPrivileges:
    case State::kConnected:
      state_ = State::kStopping;
      log(log::Level::kInfo, "stream.closing", {{"wait_ms", ms(config_.close_timeout)}});
      enqueue(std::string(kStreamClose), true);
      arm_phase(config_.close_timeout, &Connection::on_close_timeout);
      return;
    case State::kStopping:
      return;  // already closing; `done` runs when it finishes
    default:
      close_socket();
      state_ = State::kStopped;
      if (stop_done_) asio::post(io_, std::exchange(stop_done_, {}));
      return;
  }
}

void Connection::on_close_timeout() {
  log(log::Level::kWarn, "stream.close_timeout", {{"waited_ms", ms(config_.close_timeout)}});
  finish_stop();
}

void Connection::finish_stop() {
  close_socket();
  state_ = State::kStopped;
  log(log::Level::kInfo, "connection.stopped", {});
  iq_.fail_all(proto::make_error(proto::AppCondition::kNotReady, "component stopped"));
  handler_.on_disconnected({DisconnectReason::Kind::kStopped, "", "stopped", true});
  if (stop_done_) std::exchange(stop_done_, {})();
}

}  // namespace rpsync::xmpp
