// SPDX-License-Identifier: MIT
#include "tests/client_strophe/e2e/strophe_session.h"

#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

#include "protocol/xml.h"
#include "tests/scenario/party.h"

namespace rpsync::test::strophe {
namespace {

using Clock = std::chrono::steady_clock;

void initialize_once() {
  static std::once_flag once;
  std::call_once(once, [] { xmpp_initialize(); });
}

// The stanza as text, parsed into the project's element tree; nullopt if it does not parse.
std::optional<xml::Element> element_of(xmpp_ctx_t* ctx, xmpp_stanza_t* stanza) {
  char* buf = nullptr;
  std::size_t len = 0;
  if (xmpp_stanza_to_text(stanza, &buf, &len) != XMPP_EOK || !buf) return std::nullopt;
  auto parsed = xml::parse(std::string_view(buf, len));
  xmpp_free(ctx, buf);
  if (auto* e = std::get_if<xml::Element>(&parsed)) return std::move(*e);
  return std::nullopt;
}

}  // namespace

StropheSession::StropheSession(std::string full_jid, std::string password, std::uint16_t port,
                               bool wire_log)
    : jid_(std::move(full_jid)), password_(std::move(password)), port_(port) {
  initialize_once();
  log_.handler = &StropheSession::on_log;
  log_.userdata = this;
  ctx_ = xmpp_ctx_new(nullptr, wire_log ? &log_ : nullptr);
  conn_ = xmpp_conn_new(ctx_);
  xmpp_conn_set_flags(conn_, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
  xmpp_conn_set_jid(conn_, jid_.c_str());
  xmpp_conn_set_pass(conn_, password_.c_str());
  xmpp_handler_add(conn_, &StropheSession::on_any, nullptr, nullptr, nullptr, this);
  xmpp_handler_add(conn_, &StropheSession::on_presence, nullptr, "presence", nullptr, this);
  xmpp_handler_add(conn_, &StropheSession::on_iq_result, nullptr, "iq", "result", this);
  xmpp_handler_add(conn_, &StropheSession::on_iq_result, nullptr, "iq", "error", this);
}

StropheSession::~StropheSession() {
  if (conn_) {
    xmpp_handler_delete(conn_, &StropheSession::on_any);
    xmpp_handler_delete(conn_, &StropheSession::on_presence);
    xmpp_handler_delete(conn_, &StropheSession::on_iq_result);
    xmpp_conn_release(conn_);
  }
  if (ctx_) xmpp_ctx_free(ctx_);
}

std::string StropheSession::bare() const {
  return std::string(proto::bare_of(jid_));
}

std::string StropheSession::domain() const {
  const std::string b = bare();
  return b.substr(b.find('@') + 1);
}

bool StropheSession::connect() {
  seen_.clear();
  contact_presences_ = 0;
  wire_.clear();
  answered_.clear();
  if (connector) return connector("127.0.0.1", port_, &StropheSession::on_conn, this) == XMPP_EOK;
  return xmpp_connect_client(conn_, "127.0.0.1", port_, &StropheSession::on_conn, this) == XMPP_EOK;
}

bool StropheSession::pump(const std::function<bool()>& done, Millis timeout) {
  const auto end = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= end) return false;
    xmpp_run_once(ctx_, 1);
    if (side) side();
  }
  return true;
}

void StropheSession::pump_for(Millis d) {
  pump([] { return false; }, d);
}

bool StropheSession::connect_and_wait(Millis timeout) {
  const int before = connects_;
  const int ended = disconnects_;
  if (!connect()) return false;
  return pump([&] { return connects_ > before || disconnects_ > ended; }, timeout) &&
         connects_ > before;
}

bool StropheSession::login_plain(Millis timeout) {
  const std::string id = "roster" + std::to_string(++next_id_);
  send_raw("<iq type='get' id='" + id + "'><query xmlns='jabber:iq:roster'/></iq>");
  send_raw("<presence/>");
  return ping(domain(), timeout);
}

bool StropheSession::ping(const std::string& to, Millis timeout) {
  const std::string id = "ping" + std::to_string(++next_id_);
  send_raw("<iq type='get' id='" + id + "' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>");
  return pump(
             [&] {
               for (const auto& a : answered_)
                 if (a == id) return true;
               return !connected_;
             },
             timeout) &&
         connected_;
}

void StropheSession::send_raw(const std::string& xml) {
  xmpp_send_raw_string(conn_, "%s", xml.c_str());
}

bool StropheSession::disconnect(Millis timeout) {
  if (!connected_) return true;
  xmpp_disconnect(conn_);
  return pump([&] { return !connected_; }, timeout);
}

long StropheSession::find_wire(const std::string& dir, const std::string& needle,
                               std::size_t from) const {
  for (std::size_t i = from; i < wire_.size(); ++i)
    if (wire_[i].starts_with(dir) && wire_[i].find(needle) != std::string::npos)
      return static_cast<long>(i);
  return -1;
}

void StropheSession::on_conn(xmpp_conn_t*, xmpp_conn_event_t event, int, xmpp_stream_error_t*,
                             void* userdata) {
  auto* self = static_cast<StropheSession*>(userdata);
  if (event == XMPP_CONN_CONNECT) {
    self->connected_ = true;
    ++self->connects_;
    if (self->on_connected) self->on_connected();
    return;
  }
  if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL) {
    self->connected_ = false;
    ++self->disconnects_;
    if (self->on_disconnected) self->on_disconnected();
  }
}

int StropheSession::on_presence(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
  static_cast<StropheSession*>(userdata)->note_presence(stanza);
  return 1;
}

void StropheSession::note_presence(xmpp_stanza_t* stanza) {
  const char* from = xmpp_stanza_get_from(stanza);
  if (!from || proto::bare_of(from) == proto::bare_of(jid_)) return;
  if (!xmpp_stanza_get_type(stanza)) ++contact_presences_;
  if (!collect_presence) return;
  if (auto e = element_of(ctx_, stanza)) scenario::fold_presence(seen_, *e, bare());
}

int StropheSession::on_any(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
  auto* self = static_cast<StropheSession*>(userdata);
  if (self->on_stanza) self->on_stanza(stanza);
  return 1;
}

int StropheSession::on_iq_result(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
  if (const char* id = xmpp_stanza_get_id(stanza))
    static_cast<StropheSession*>(userdata)->answered_.emplace_back(id);
  return 1;
}

void StropheSession::on_log(void* userdata, xmpp_log_level_t, const char*, const char* msg) {
  if (!msg) return;
  auto* self = static_cast<StropheSession*>(userdata);
  const std::string_view m(msg);
  if (m.starts_with("SENT: "))
    self->wire_.push_back(">> " + std::string(m.substr(6)));
  else if (m.starts_with("RECV: "))
    self->wire_.push_back("<< " + std::string(m.substr(6)));
  else
    return;
  if (self->on_wire) self->on_wire(self->wire_.back());
}

FreshView fresh_login_view(const std::string& full_jid, const std::string& password,
                           std::uint16_t port, Millis timeout) {
  FreshView view;
  StropheSession s(full_jid, password, port);
  if (!s.connect_and_wait(timeout)) return view;
  view.ok = s.login_plain(timeout);
  view.state = s.seen();
  s.disconnect();
  return view;
}

}  // namespace rpsync::test::strophe
