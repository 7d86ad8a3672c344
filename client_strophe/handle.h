// SPDX-License-Identifier: MIT
// struct rpsync_strophe (the C handle) and the conversions from the binding's C++ values
// to the C structs of rpsync/strophe.h. Internal to api.cpp and api_views.cpp.
#pragma once

#include <string>
#include <vector>

#include "client_ext/cache.h"
#include "client_ext/roster_cache.h"
#include "client_strophe/session.h"
#include "client_strophe/stanza_bridge.h"
#include "rpsync/strophe.h"

#define RPSYNC_STROPHE_API extern "C" __attribute__((visibility("default")))

namespace rpsync::strophe {

// A C view of a PresenceChange: its pointers point into `change` (keep it alive).
rpsync_strophe_presence_t c_presence(const client::PresenceChange& change);
rpsync_strophe_presence_t c_presence(const std::string& jid, const proto::PresenceFields& f);

// C views of roster items; `groups` holds the group pointer arrays they point into.
struct CRoster {
  std::vector<std::vector<const char*>> groups;
  std::vector<rpsync_strophe_roster_item_t> items;
};
CRoster c_roster(const client::CachedRoster& roster);

// Session events to the application's C callbacks.
class CEvents final : public Events {
 public:
  CEvents(rpsync_strophe_t* h, const rpsync_strophe_callbacks_t& cb, void* userdata)
      : h_(h), cb_(cb), userdata_(userdata) {}
  void synced(const client::SyncStats& s, const std::vector<client::PresenceChange>& c) override;
  void full_resync(const client::FullResync& f) override;
  void presence(const client::PresenceChange& c) override;
  void presence_sent(bool marked) override;
  void enabled(bool matched) override;
  void component(const std::string& jid) override;
  void roster(const client::CachedRoster& r, bool from_cache) override;
  void log(const std::string& line) override;

 private:
  rpsync_strophe_t* h_;
  rpsync_strophe_callbacks_t cb_;
  void* userdata_;
};

Options options_from(const rpsync_strophe_options_t& o);

}  // namespace rpsync::strophe

// The userdata of the connection handler the binding installs with xmpp_connect_client.
// libstrophe 0.12 cannot take a connection handler back, so this outlives a handle freed
// while its connection is up: `h` is then null and the link deletes itself at the
// connection's DISCONNECT/FAIL event (which xmpp_conn_release of a live connection fires),
// after passing it on to the application's handler.
struct rpsync_strophe_conn_link {
  rpsync_strophe* h = nullptr;
  xmpp_conn_handler app_handler = nullptr;
  void* app_userdata = nullptr;
};

struct rpsync_strophe {
  rpsync_strophe(xmpp_conn_t* c, const rpsync_strophe_options_t& o,
                 const rpsync_strophe_callbacks_t& cb, void* userdata);

  xmpp_conn_t* conn;
  rpsync::strophe::StropheTransport transport;
  rpsync::strophe::CEvents events;
  rpsync::strophe::Session session;
  rpsync_strophe_conn_link* link = nullptr;  // created by the first connect_client
  bool resumed = false;                      // <resumed/> seen on the stream being set up
  bool connecting = false;                   // connect_client called, no DISCONNECT/FAIL since
  bool tcp_nodelay = true;                   // connect_client installs rpsync_strophe_sockopt_cb
  std::string component;                     // returned by rpsync_strophe_get_component
  std::string roster_ver;                    // returned by rpsync_strophe_roster_version
};
