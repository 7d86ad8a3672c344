// SPDX-License-Identifier: MIT
#include "tests/client_strophe/e2e/rpsync_client.h"

#include <algorithm>
#include <utility>

namespace rpsync::test::strophe {
namespace {

Reports& reports_of(void* userdata) {
  return *static_cast<Reports*>(userdata);
}

Change change_of(const rpsync_strophe_presence_t& p) {
  return Change{p.jid, p.kind, p.changed, fields_of(p)};
}

void on_synced(rpsync_strophe_t*, const rpsync_strophe_sync_stats_t* stats,
               const rpsync_strophe_presence_t* changes, std::size_t count, void* userdata) {
  Reports& r = reports_of(userdata);
  r.synced.push_back(*stats);
  std::vector<Change> copied;
  for (std::size_t i = 0; i < count; ++i) copied.push_back(change_of(changes[i]));
  r.synced_changes.push_back(std::move(copied));
  r.note("synced");
}

void on_full_resync(rpsync_strophe_t*, rpsync_strophe_reason_t reason, const char* detail,
                    void* userdata) {
  Reports& r = reports_of(userdata);
  r.full_resyncs.push_back({reason, detail ? detail : ""});
  r.note(std::string("full-resync:") + rpsync_strophe_reason_string(reason));
}

void on_presence_sent(rpsync_strophe_t*, int marked, void* userdata) {
  Reports& r = reports_of(userdata);
  r.presence_sent.push_back(marked);
  r.note(marked ? "presence-sent:marked" : "presence-sent");
}

void on_enabled(rpsync_strophe_t*, int matched, void* userdata) {
  Reports& r = reports_of(userdata);
  r.enabled.push_back(matched);
  r.note("enabled");
}

void on_component(rpsync_strophe_t*, const char* jid, void* userdata) {
  reports_of(userdata).components.emplace_back(jid ? jid : "");
}

void on_roster(rpsync_strophe_t*, const rpsync_strophe_roster_item_t* items, std::size_t count,
               int from_cache, void* userdata) {
  Reports& r = reports_of(userdata);
  std::vector<std::string> jids;
  for (std::size_t i = 0; i < count; ++i) jids.emplace_back(items[i].jid);
  std::sort(jids.begin(), jids.end());
  r.rosters.push_back(std::move(jids));
  r.roster_from_cache.push_back(from_cache);
  r.note(from_cache ? "roster:cached" : "roster");
}

void on_log(rpsync_strophe_t*, const char* line, void* userdata) {
  if (line) reports_of(userdata).log.emplace_back(line);
}

rpsync_strophe_options_t options_for(const ClientOptions& o) {
  rpsync_strophe_options_t r;
  rpsync_strophe_options_init(&r);
  r.component = o.component.empty() ? nullptr : o.component.c_str();
  r.synced_marker = o.synced_marker ? 1 : 0;
  if (o.fast_timers) {
    r.settle_quiet_ms = 300;
    r.settle_max_ms = 3000;
    r.checkpoint_quiet_ms = 300;
    r.request_timeout_ms = 3000;
    r.logout_timeout_ms = 2000;
  }
  if (o.tune) o.tune(r);
  return r;
}

}  // namespace

void Reports::note(std::string event) {
  events.push_back(std::move(event));
  event_times.push_back(std::chrono::steady_clock::now());
}

std::optional<std::chrono::steady_clock::time_point> Reports::time_of(const std::string& prefix,
                                                                      std::size_t from) const {
  for (std::size_t i = from; i < events.size(); ++i)
    if (events[i].starts_with(prefix)) return event_times[i];
  return std::nullopt;
}

proto::PresenceFields fields_of(const rpsync_strophe_presence_t& p) {
  proto::PresenceFields f;
  f.show = proto::show_from(p.show ? p.show : "").value_or(proto::Show::kNone);
  f.status = p.status ? p.status : "";
  f.priority = static_cast<std::int8_t>(p.priority);
  const bool caps =
      (p.caps_hash && *p.caps_hash) || (p.caps_node && *p.caps_node) || (p.caps_ver && *p.caps_ver);
  if (caps) f.caps = proto::Caps{p.caps_hash, p.caps_node, p.caps_ver};
  f.photo = p.photo ? p.photo : "";
  f.idle_since = p.idle_since ? p.idle_since : "";
  return f;
}

RpsyncClient::RpsyncClient(ClientOptions options) : options_(std::move(options)) {
  session_ = std::make_unique<StropheSession>(options_.full_jid, options_.password, options_.port,
                                              options_.wire_log);
  rpsync_strophe_callbacks_t cb{};
  cb.synced = &on_synced;
  cb.full_resync = &on_full_resync;
  cb.presence_sent = &on_presence_sent;
  cb.enabled = &on_enabled;
  cb.component = &on_component;
  cb.roster = &on_roster;
  cb.log = &on_log;
  const rpsync_strophe_options_t o = options_for(options_);
  handle_ = rpsync_strophe_new(session_->conn(), &o, &cb, &reports_);
  if (handle_ && !options_.state_file.empty())
    open_result_ = rpsync_strophe_open_state(handle_, options_.state_file.c_str());
  session_->connector = [this](const char* host, unsigned short port, xmpp_conn_handler handler,
                               void* userdata) {
    return rpsync_strophe_connect_client(handle_, host, port, handler, userdata);
  };
  session_->on_connected = [this] { on_connected(); };
}

// A live connection is closed and the loop run until libstrophe reported it, before the
// handle goes: releasing a connected xmpp_conn_t calls the connection handler, which the
// binding installed with the handle as its userdata.
RpsyncClient::~RpsyncClient() {
  if (options_.disconnect_before_free && session_->connected()) session_->disconnect(Millis(3000));
  rpsync_strophe_free(handle_);
  session_.reset();
}

void RpsyncClient::on_connected() {
  if (options_.roster) rpsync_strophe_roster_request(handle_);
  xmpp_stanza_t* presence = xmpp_presence_new(session_->ctx());
  rpsync_strophe_send_initial_presence(handle_, presence);
  xmpp_stanza_release(presence);
}

bool RpsyncClient::login(Millis timeout) {
  const std::size_t sent = reports_.presence_sent.size();
  const int ended = session_->disconnects();
  if (!handle_ || !session_->connect()) return false;
  return session_->pump(
             [&] {
               return reports_.presence_sent.size() > sent || session_->disconnects() > ended;
             },
             timeout) &&
         reports_.presence_sent.size() > sent;
}

bool RpsyncClient::login_until_online(Millis timeout) {
  return login(timeout) &&
         session_->pump([&] { return phase() == RPSYNC_STROPHE_ONLINE; }, timeout);
}

bool RpsyncClient::logout(Millis timeout) {
  const int ended = session_->disconnects();
  if (rpsync_strophe_logout(handle_) != XMPP_EOK) return false;
  return session_->pump([&] { return session_->disconnects() > ended; }, timeout);
}

rpsync_strophe_stats_t RpsyncClient::stats() const {
  rpsync_strophe_stats_t s{};
  rpsync_strophe_get_stats(handle_, &s);
  return s;
}

proto::PresenceState RpsyncClient::view() const {
  proto::PresenceState state;
  rpsync_strophe_presence_foreach(
      handle_,
      [](const rpsync_strophe_presence_t* p, void* userdata) {
        (*static_cast<proto::PresenceState*>(userdata))[p->jid] = fields_of(*p);
      },
      &state);
  return state;
}

std::string RpsyncClient::digest_hex() const {
  char hex[65] = {0};
  std::uint32_t count = 0;
  if (rpsync_strophe_presence_digest(handle_, hex, &count) != XMPP_EOK) return {};
  return std::to_string(count) + ":" + hex;
}

std::vector<std::string> RpsyncClient::roster_jids() const {
  std::vector<std::string> jids;
  rpsync_strophe_roster_foreach(
      handle_,
      [](const rpsync_strophe_roster_item_t* item, void* userdata) {
        static_cast<std::vector<std::string>*>(userdata)->emplace_back(item->jid);
      },
      &jids);
  std::sort(jids.begin(), jids.end());
  return jids;
}

}  // namespace rpsync::test::strophe
