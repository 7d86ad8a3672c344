// SPDX-License-Identifier: MIT
// The edge between libstrophe and the rest of the binding: xmpp_stanza_t to xml::Element
// (serialised by libstrophe, parsed by protocol/xml.h: the one XML layer of the project)
// and a Transport that sends xml::Elements on an xmpp_conn_t.
#pragma once

#include <strophe.h>

#include <cstddef>
#include <optional>
#include <string>

#include "client_strophe/transport.h"
#include "protocol/xml.h"

namespace rpsync::strophe {

struct Converted {
  xml::Element element;
  std::size_t bytes = 0;  // size of the serialised stanza
};

// nullopt when libstrophe cannot serialise it or it does not parse (never thrown).
std::optional<Converted> to_element(xmpp_stanza_t* stanza);

class StropheTransport final : public Transport {
 public:
  explicit StropheTransport(xmpp_conn_t* conn);
  void send(const xml::Element& stanza) override;
  void disconnect() override;
  std::string new_id() override;

 private:
  xmpp_conn_t* conn_;
  std::string prefix_;
  unsigned long next_ = 0;
};

}  // namespace rpsync::strophe
