// SPDX-License-Identifier: MIT
// What a Session needs from its connection: send a stanza, close the stream, and a fresh
// stanza id. The libstrophe glue (stanza_bridge.h) implements it on an xmpp_conn_t; unit
// tests implement it with a recorder.
#pragma once

#include <string>

#include "protocol/xml.h"

namespace rpsync::strophe {

class Transport {
 public:
  virtual ~Transport() = default;
  // A top-level stanza in the jabber:client namespace (name iq, presence, message).
  virtual void send(const xml::Element& stanza) = 0;
  // Closes the stream gracefully (xmpp_disconnect).
  virtual void disconnect() = 0;
  virtual std::string new_id() = 0;
};

}  // namespace rpsync::strophe
