// SPDX-License-Identifier: MIT
#include "client_strophe/stanza_bridge.h"

#include <string_view>
#include <variant>

#include "client_strophe/session_id.h"

namespace rpsync::strophe {

std::optional<Converted> to_element(xmpp_stanza_t* stanza) {
  char* buf = nullptr;
  std::size_t len = 0;
  if (stanza == nullptr || xmpp_stanza_to_text(stanza, &buf, &len) != XMPP_EOK) {
    return std::nullopt;
  }
  xmpp_ctx_t* ctx = xmpp_stanza_get_context(stanza);
  std::string text(buf, len);
  xmpp_free(ctx, buf);
  // A stanza relayed by the server is bounded by the server's own limits.
  xml::ParseLimits limits;
  limits.max_element_bytes = text.size() + 1;
  auto parsed = xml::parse(text, limits);
  if (auto* e = std::get_if<xml::Element>(&parsed)) return Converted{std::move(*e), len};
  return std::nullopt;
}

StropheTransport::StropheTransport(xmpp_conn_t* conn)
    : conn_(conn), prefix_("rps" + random_session_id().substr(0, 8) + "-") {}

void StropheTransport::send(const xml::Element& stanza) {
  // The stanza's own namespace is the stream's (jabber:client, or none at all for a
  // stanza that came from libstrophe without xmlns): no declaration on the root, so
  // neither xmlns='' nor a redundant xmlns='jabber:client' goes out.
  const std::string text = xml::to_string(stanza, stanza.ns());
  xmpp_stanza_t* s = xmpp_stanza_new_from_string(xmpp_conn_get_context(conn_), text.c_str());
  if (s == nullptr) return;  // out of memory: the request times out like a lost one
  xmpp_send(conn_, s);
  xmpp_stanza_release(s);
}

void StropheTransport::disconnect() {
  xmpp_disconnect(conn_);
}

std::string StropheTransport::new_id() {
  return prefix_ + std::to_string(++next_);
}

}  // namespace rpsync::strophe
