// SPDX-License-Identifier: MIT
// A tiny blocking XMPP c2s client for tests: plain TCP to 127.0.0.1, SASL PLAIN,
// resource binding, then raw stanzas in and out (parsed with rpsync::xml::StreamParser).
// It exists to make a real server generate presence; it is not a general client.
// Every wait is bounded by the timeout given. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/xml.h"
#include "tests/harness/xml_socket.h"

namespace rpsync::test {

class TestClient {
 public:
  using Millis = std::chrono::milliseconds;

  // Connects to 127.0.0.1:port, authenticates user@host and binds `resource`.
  // Returns null with `why` filled on any failure.
  static std::unique_ptr<TestClient> login(uint16_t port, const std::string& user,
                                           const std::string& host, const std::string& password,
                                           const std::string& resource, std::string* why,
                                           Millis timeout = Millis(5000));
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  const std::string& jid() const { return jid_; }  // the bound full JID
  const std::string& stream_id() const { return socket_->stream_id(); }

  // Serialises a stanza in jabber:client (set its namespace to ns::kClient or leave it empty).
  bool send(const xml::Element& stanza);
  bool send_raw(std::string_view bytes);
  // Sends <presence/> with an optional <show/> and <status/>.
  bool send_presence(std::string_view show = {}, std::string_view status = {});

  // Next stanza from the server, nullopt on timeout or a closed stream.
  std::optional<xml::Element> next(Millis timeout);
  // First stanza matching `pred` within `timeout` (others are dropped).
  std::optional<xml::Element> wait_for(const std::function<bool(const xml::Element&)>& pred,
                                       Millis timeout);

  // Graceful: sends unavailable + </stream:stream>, waits up to 1 s for the server's close.
  void close();
  // Abrupt: resets the TCP connection (SO_LINGER 0) without closing the stream.
  void abort();

 private:
  explicit TestClient(std::unique_ptr<XmlSocket> socket);
  bool open_stream(const std::string& host, Millis timeout);

  std::unique_ptr<XmlSocket> socket_;
  std::string jid_;
};

}  // namespace rpsync::test
