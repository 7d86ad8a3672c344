// SPDX-License-Identifier: MIT
// What the service needs from the XMPP connection (implemented over plugin/xmpp by the
// app, and by a recording fake in unit tests).
#pragma once

#include <chrono>
#include <functional>

#include "protocol/error.h"
#include "protocol/xml.h"

namespace rpsync::service {

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues a stanza for the server. False when it cannot be queued (write queue full or
  // not connected); the stanza is dropped.
  virtual bool send(xml::Element stanza) = 0;
  // Sends an IQ get/set (the transport assigns its id) and calls `done` exactly once with
  // the result stanza, or with the error stanza's StanzaError, remote-server-timeout after
  // `timeout`, or kNotReady when the connection is down or drops.
  using Reply = std::function<void(proto::Result<xml::Element>)>;
  virtual void request(xml::Element iq, std::chrono::milliseconds timeout, Reply done) = 0;
};

}  // namespace rpsync::service
