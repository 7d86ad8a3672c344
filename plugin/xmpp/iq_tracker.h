// SPDX-License-Identifier: MIT
// Outgoing IQ bookkeeping (RFC 6120 §8.2.3): each request gets a fresh id, a timeout and a
// callback that receives exactly once either the <iq type='result'/> stanza or the error
// as a value (proto::StanzaError). An answer is accepted only from the JID the request was
// addressed to, so a user cannot answer the component's requests by guessing ids
// (compared as strings: address requests with normalised JIDs, as the server stamps them).
// Runs on one io_context thread; callbacks are never invoked from inside request().
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "protocol/error.h"
#include "protocol/xml.h"

namespace rpsync::xmpp {

enum class SendResult {
  kQueued,        // accepted into the write queue
  kQueueFull,     // backpressure: the write queue is at its byte limit; nothing was queued
  kNotConnected,  // no authenticated stream right now
  kTooLarge,      // larger than max_outgoing_stanza_size: the server would close the stream
};

class IqTracker {
 public:
  using Callback = std::function<void(proto::Result<xml::Element>)>;
  using SendFn = std::function<SendResult(const xml::Element&)>;

  // `send` writes a stanza to the stream; ids are "<id_prefix><counter>".
  IqTracker(asio::io_context& io, SendFn send, std::string id_prefix);
  ~IqTracker();
  IqTracker(const IqTracker&) = delete;
  IqTracker& operator=(const IqTracker&) = delete;

  // Sets the iq's id, sends it and arms the timeout. If it cannot be sent (not connected,
  // queue full) the callback gets, posted, the not-ready error (service-unavailable, wait).
  // A timeout is remote-server-timeout; an answer of type error is its parsed StanzaError.
  // Returns the id used.
  std::string request(xml::Element iq, std::chrono::milliseconds timeout, Callback cb);

  // Consumes `stanza` when it answers a pending request (type result or error, matching
  // id and sender) and runs its callback; false otherwise.
  bool handle(const xml::Element& stanza);

  // Fails every pending request with `error` (used when the stream goes down).
  void fail_all(const proto::StanzaError& error);

 private:
  struct Pending {
    std::string to;
    Callback cb;
    std::unique_ptr<asio::steady_timer> timer;
  };
  void finish(const std::string& id, proto::Result<xml::Element> result);

  asio::io_context& io_;
  SendFn send_;
  std::string prefix_;
  uint64_t counter_ = 0;
  std::map<std::string, Pending> pending_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace rpsync::xmpp
