// SPDX-License-Identifier: MIT
// The extern "C" entry points of librpsync-strophe: lifecycle and actions. No exception
// leaves them: std::bad_alloc becomes XMPP_EMEM, anything else XMPP_EINT (or NULL).
#include <cstring>
#include <new>
#include <utility>

#include "client_strophe/handle.h"

using rpsync::strophe::Session;

namespace {

constexpr std::string_view kSmNs = "urn:xmpp:sm:3";

template <class F>
int guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return XMPP_EMEM;
  } catch (...) {
    return XMPP_EINT;
  }
}

int on_stanza(xmpp_conn_t*, xmpp_stanza_t* stanza, void* userdata) {
  auto* h = static_cast<rpsync_strophe_t*>(userdata);
  (void)guarded([&] {
    const char* name = xmpp_stanza_get_name(stanza);
    const char* ns = xmpp_stanza_get_ns(stanza);
    if (name != nullptr && ns != nullptr && ns == kSmNs && std::strcmp(name, "resumed") == 0) {
      h->resumed = true;
      return XMPP_EOK;
    }
    if (name == nullptr || (std::strcmp(name, "iq") != 0 && std::strcmp(name, "presence") != 0)) {
      return XMPP_EOK;
    }
    if (auto c = rpsync::strophe::to_element(stanza)) h->session.on_stanza(c->element, c->bytes);
    return XMPP_EOK;
  });
  return 1;  // keep the handler
}

int on_timer(xmpp_conn_t*, void* userdata) {
  auto* h = static_cast<rpsync_strophe_t*>(userdata);
  (void)guarded([&] {
    h->session.tick();
    return XMPP_EOK;
  });
  return 1;
}

void on_conn(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
             xmpp_stream_error_t* stream_error, void* userdata) {
  auto* link = static_cast<rpsync_strophe_conn_link*>(userdata);
  const bool down = event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL;
  if (rpsync_strophe_t* h = link->h) {
    (void)guarded([&] {
      if (event == XMPP_CONN_CONNECT) {
        const char* bound = xmpp_conn_get_bound_jid(conn);
        h->session.on_login(bound != nullptr ? bound : "", std::exchange(h->resumed, false));
      } else if (down) {
        h->connecting = false;
        h->resumed = false;
        h->session.on_disconnect();
      }
      return XMPP_EOK;
    });
  }
  if (link->app_handler != nullptr) {
    link->app_handler(conn, event, error, stream_error, link->app_userdata);
  }
  if (link->h == nullptr && down) delete link;  // its handle was freed while connected
}

}  // namespace

rpsync_strophe::rpsync_strophe(xmpp_conn_t* c, const rpsync_strophe_options_t& o,
                               const rpsync_strophe_callbacks_t& cb, void* userdata)
    : conn(c),
      transport(c),
      events(this, cb, userdata),
      session(xmpp_conn_get_jid(c), rpsync::strophe::options_from(o), transport, events),
      tcp_nodelay(o.tcp_nodelay != 0) {}

RPSYNC_STROPHE_API void rpsync_strophe_options_init(rpsync_strophe_options_t* o) {
  if (o == nullptr) return;
  *o = rpsync_strophe_options_t{};
  o->settle_quiet_ms = 1500;
  o->settle_max_ms = 15000;
  o->checkpoint_quiet_ms = 5000;
  o->checkpoint_interval_ms = 10 * 60 * 1000;
  o->request_timeout_ms = 10000;
  o->logout_timeout_ms = 3000;
  o->retry_after_wait_ms = 30000;
  o->rediscover_after_ms = 60 * 60 * 1000;
  o->synced_marker = 1;
  o->answer_disco = 1;
  o->roster_ver = 1;
  o->tcp_nodelay = 1;
}

RPSYNC_STROPHE_API rpsync_strophe_t* rpsync_strophe_new(xmpp_conn_t* conn,
                                                        const rpsync_strophe_options_t* options,
                                                        const rpsync_strophe_callbacks_t* callbacks,
                                                        void* userdata) {
  if (conn == nullptr || xmpp_conn_get_jid(conn) == nullptr) return nullptr;
  rpsync_strophe_options_t o;
  rpsync_strophe_options_init(&o);
  if (options != nullptr) o = *options;
  const rpsync_strophe_callbacks_t cb =
      callbacks != nullptr ? *callbacks : rpsync_strophe_callbacks_t{};
  rpsync_strophe_t* h = nullptr;
  try {
    h = new rpsync_strophe(conn, o, cb, userdata);
  } catch (...) {
    return nullptr;
  }
  xmpp_handler_add(conn, on_stanza, nullptr, nullptr, nullptr, h);
  xmpp_timed_handler_add(conn, on_timer, 100, h);
  return h;
}

RPSYNC_STROPHE_API void rpsync_strophe_free(rpsync_strophe_t* h) {
  if (h == nullptr) return;
  xmpp_handler_delete(h->conn, on_stanza);
  xmpp_timed_handler_delete(h->conn, on_timer);
  if (h->link != nullptr) {
    if (h->connecting) {
      h->link->h = nullptr;  // the connection still calls on_conn with it: see handle.h
    } else {
      delete h->link;
    }
  }
  delete h;
}

RPSYNC_STROPHE_API int rpsync_strophe_open_state(rpsync_strophe_t* h, const char* path) {
  if (h == nullptr || path == nullptr || h->connecting) return XMPP_EINVOP;
  return guarded([&] {
    const rpsync::Status st = h->session.open_state(path);
    if (st.code() == rpsync::StatusCode::kInvalidArgument) return XMPP_EINVOP;
    return st.ok() ? XMPP_EOK : XMPP_EINT;
  });
}

RPSYNC_STROPHE_API int rpsync_strophe_connect_client(rpsync_strophe_t* h, const char* altdomain,
                                                     unsigned short altport,
                                                     xmpp_conn_handler callback, void* userdata) {
  if (h == nullptr || h->connecting) return XMPP_EINVOP;
  if (h->link == nullptr) {
    h->link = new (std::nothrow) rpsync_strophe_conn_link{h, nullptr, nullptr};
    if (h->link == nullptr) return XMPP_EMEM;
  }
  h->link->app_handler = callback;
  h->link->app_userdata = userdata;
  h->resumed = false;
  if (h->tcp_nodelay) xmpp_conn_set_sockopt_callback(h->conn, rpsync_strophe_sockopt_cb);
  const int rc = xmpp_connect_client(h->conn, altdomain, altport, on_conn, h->link);
  if (rc == XMPP_EOK) h->connecting = true;
  return rc;
}

RPSYNC_STROPHE_API int rpsync_strophe_send_initial_presence(rpsync_strophe_t* h,
                                                            const xmpp_stanza_t* presence) {
  if (h == nullptr || presence == nullptr) return XMPP_EINVOP;
  return guarded([&] {
    auto c = rpsync::strophe::to_element(const_cast<xmpp_stanza_t*>(presence));
    if (!c) return XMPP_EINVOP;
    return h->session.send_initial_presence(c->element) ? XMPP_EOK : XMPP_EINVOP;
  });
}

RPSYNC_STROPHE_API int rpsync_strophe_roster_request(rpsync_strophe_t* h) {
  if (h == nullptr) return XMPP_EINVOP;
  return guarded([&] { return h->session.roster_request() ? XMPP_EOK : XMPP_EINVOP; });
}

RPSYNC_STROPHE_API int rpsync_strophe_logout(rpsync_strophe_t* h) {
  if (h == nullptr) return XMPP_EINVOP;
  return guarded([&] { return h->session.logout() ? XMPP_EOK : XMPP_EINVOP; });
}

RPSYNC_STROPHE_API int rpsync_strophe_disable(rpsync_strophe_t* h) {
  if (h == nullptr) return XMPP_EINVOP;
  return guarded([&] { return h->session.disable() ? XMPP_EOK : XMPP_EINVOP; });
}
