// SPDX-License-Identifier: MIT
// One XML stream over a blocking loopback TCP connection, for test clients of any kind
// (TestClient's c2s, a raw XEP-0114 component): connect to 127.0.0.1:port (TCP_NODELAY
// when asked), send bytes, parse what arrives (rpsync::xml::StreamParser) into a queue of
// stanzas. Every wait is bounded by the timeout given. Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/xml.h"

namespace rpsync::test {

class XmlSocket {
 public:
  using Millis = std::chrono::milliseconds;

  // Null with `why` filled when the connection fails.
  static std::unique_ptr<XmlSocket> connect(std::uint16_t port, bool nodelay, std::string* why);
  ~XmlSocket();
  XmlSocket(const XmlSocket&) = delete;
  XmlSocket& operator=(const XmlSocket&) = delete;

  bool send(std::string_view bytes);
  // Next stanza, nullopt on timeout or a closed stream.
  std::optional<xml::Element> next(Millis timeout);
  // First stanza matching `pred` within `timeout` (others are dropped).
  std::optional<xml::Element> wait_for(const std::function<bool(const xml::Element&)>& pred,
                                       Millis timeout);
  // Reads until the peer's stream header arrived (true) or `timeout` / a closed stream.
  bool wait_opened(Millis timeout);
  // A new stream on the same connection (after SASL): parser, queue and header forgotten.
  void restart_stream();

  const std::string& stream_id() const { return stream_id_; }  // of the peer's header
  bool closed() const { return closed_ || fd_ < 0; }
  std::size_t wire_bytes() const { return wire_bytes_; }  // every byte read so far

  // Graceful: sends `last_words`, waits up to 1 s for the peer's close, closes the socket.
  void close(std::string_view last_words);
  // Abrupt: resets the connection (SO_LINGER 0).
  void abort();

 private:
  explicit XmlSocket(int fd);
  bool read_more(Millis timeout);

  int fd_ = -1;
  std::unique_ptr<xml::StreamParser> parser_;
  std::deque<xml::Element> inbox_;
  bool opened_ = false;
  bool closed_ = false;
  std::string stream_id_;
  std::size_t wire_bytes_ = 0;
};

}  // namespace rpsync::test
