// SPDX-License-Identifier: MIT
#include "plugin/xmpp/stream.h"

#include <openssl/sha.h>

#include "protocol/ns.h"

namespace rpsync::xmpp {

std::string stream_header(std::string_view component_jid) {
  std::string out =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
      "xmlns:stream='http://etherx.jabber.org/streams' to='";
  xml::append_escaped(out, component_jid);
  out += "'>";
  return out;
}

std::string handshake_digest(std::string_view stream_id, std::string_view secret) {
  std::string input;
  input.reserve(stream_id.size() + secret.size());
  input.append(stream_id).append(secret);
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char b : md) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
  }
  return hex;
}

StreamError parse_stream_error(const xml::Element& error) {
  StreamError out{"undefined-condition", {}};
  bool have_condition = false;
  for (const auto& c : error.children()) {
    if (c.ns() != ns::kStreamErrors) continue;
    if (c.name() == "text") {
      out.text = c.text();
    } else if (!have_condition) {
      out.condition = c.name();
      have_condition = true;
    }
  }
  return out;
}

std::string stream_error_bytes(std::string_view condition, std::string_view text) {
  const std::string ns = "xmlns='" + std::string(ns::kStreamErrors) + "'";
  std::string out = "<stream:error><";
  out.append(condition).append(" ").append(ns).append("/>");
  if (!text.empty()) {
    out.append("<text ").append(ns).append(">");
    xml::append_escaped(out, text);
    out.append("</text>");
  }
  out.append("</stream:error>").append(kStreamClose);
  return out;
}

std::string explain(const StreamError& error, std::string_view component_jid) {
  std::string c(component_jid);
  if (error.condition == "conflict")
    return "another connection already uses the component name " + c +
           " (Prosody refuses a second one); stop the other instance";
  if (error.condition == "not-authorized")
    return "the server refused the handshake for " + c +
           ": the secret does not match the server's component_secret (Prosody) / "
           "ejabberd_service password";
  if (error.condition == "host-unknown" || error.condition == "improper-addressing")
    return "the server has no component named " + c +
           ": add Component \"" + c + "\" (Prosody) or an ejabberd_service hosts entry";
  if (error.condition == "system-shutdown") return "the server is shutting down";
  if (error.condition == "see-other-host") return "the server redirects to another host: " + error.text;
  if (error.condition == "policy-violation" || error.condition == "resource-constraint")
    return "the server closed the stream for exceeding a limit (" + error.condition + ")";
  return "the server closed the stream with " + error.condition;
}

}  // namespace rpsync::xmpp
