// SPDX-License-Identifier: MIT
// Pure pieces of the XEP-0114 component protocol: the stream header, the handshake
// digest, and stream errors (RFC 6120 §4.9) read and written as values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/xml.h"

namespace rpsync::xmpp {

// <?xml?><stream:stream xmlns='jabber:component:accept' xmlns:stream=... to='COMPONENT'>
std::string stream_header(std::string_view component_jid);
inline constexpr std::string_view kStreamClose = "</stream:stream>";

// XEP-0114 §3: lowercase hex SHA-1 of (stream id || secret).
std::string handshake_digest(std::string_view stream_id, std::string_view secret);

struct StreamError {
  std::string condition;  // e.g. "conflict", "not-authorized", "host-unknown"
  std::string text;       // the optional <text/>
};

// Reads a <stream:error/> element; the condition is "undefined-condition" when absent.
StreamError parse_stream_error(const xml::Element& error);
// <stream:error><CONDITION xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>
// followed by </stream:stream>, ready to write.
std::string stream_error_bytes(std::string_view condition, std::string_view text = {});

// One sentence telling the operator what a stream error from the server means for a
// component named `component_jid` and what to check.
std::string explain(const StreamError& error, std::string_view component_jid);

}  // namespace rpsync::xmpp
