// SPDX-License-Identifier: MIT
// Settings of the component's server connection. Filled once by the application
// (from its config file / command line) and passed in by value; nothing here reads files.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rpsync::xmpp {

using Millis = std::chrono::milliseconds;

struct ComponentConfig {
  std::string host = "127.0.0.1";  // the server's component listener
  uint16_t port = 5347;
  std::string component_jid = "rpsync.example.test";  // also the stream's `to`
  std::string secret;

  // Server domains whose privileges the component needs. When non-empty, "connected"
  // waits for an advertisement from each (up to privilege_timeout), names the ones
  // missing, and advertisements from any other domain are ignored (a remote server could
  // send one over s2s). When empty (tests only) the first advertisement from any domain
  // completes the connection.
  std::vector<std::string> served_hosts;

  Millis connect_timeout{10'000};    // TCP connect
  Millis handshake_timeout{10'000};  // stream header + <handshake/> reply
  Millis privilege_timeout{5'000};   // wait for the XEP-0356 advertisement after <handshake/>
  Millis backoff_min{500};           // first reconnect delay
  Millis backoff_max{60'000};        // cap of the exponential backoff
  Millis keepalive_interval{30'000};  // idle time before a whitespace ping / XEP-0199 ping
  Millis ping_timeout{10'000};        // no data for interval + this => connection dead
  Millis close_timeout{2'000};        // wait for the server's </stream:stream> on stop()
  std::size_t write_queue_limit = 4 * 1024 * 1024;  // bytes of stanzas queued for writing
  // Incoming stanzas (spec "Limits"): a stanza over any of these is skipped at its end
  // tag and reported to Handler::on_skipped; the stream goes on. The byte defaults take
  // everything a server relays: Prosody 0.12 accepts 256 KiB on c2s and 512 KiB on s2s
  // and component streams (ejabberd 23.01: unbounded unless max_stanza_size is set;
  // Debian's config sets 256 KiB / 512 KiB), and re-escaping can grow a stanza up to 6x
  // (' -> &apos;), so 3 MiB. IQ results (privileged roster answers of 20,000+ contacts)
  // have their own, larger bound.
  std::size_t max_stanza_size = 3 * 1024 * 1024;     // one incoming stanza, bytes
  std::size_t max_result_size = 64 * 1024 * 1024;    // one incoming <iq type=result|error/>
  std::size_t max_depth = 32;                        // element nesting inside a stanza
  std::size_t max_attributes = 64;                   // attributes of one element
  // Outgoing: send() refuses a stanza larger than this (kTooLarge) instead of letting the
  // server close the stream for it. Prosody's component_stanza_size_limit default.
  std::size_t max_outgoing_stanza_size = 512 * 1024;
  // Target of keepalive XEP-0199 pings; empty = first served host, else the component
  // JID's parent domain (rpsync.example.test -> example.test).
  std::string ping_target;
};

}  // namespace rpsync::xmpp
