// SPDX-License-Identifier: MIT
// Internal helpers shared by the element parsers. Not part of the public API.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/digest.h"
#include "protocol/error.h"
#include "protocol/ns.h"
#include "protocol/xml.h"

namespace rpsync::proto::detail {

inline std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// The element is <name xmlns='urn:xmpp:rpsync:0'/>, else bad-request.
inline std::optional<StanzaError> expect(const xml::Element& e, std::string_view name) {
  if (e.name() != name || e.ns() != ns::kRpsync)
    return bad_request("expected <" + std::string(name) + "/> in " + std::string(ns::kRpsync) +
                       ", got <" + e.name() + "/> in '" + e.ns() + "'");
  return std::nullopt;
}

// A required, non-empty attribute of at most `max` bytes.
inline Result<std::string> required(const xml::Element& e, std::string_view attr,
                                    std::size_t max) {
  auto v = e.attr(attr);
  if (!v || v->empty())
    return bad_request("<" + e.name() + "/> needs a non-empty '" + std::string(attr) +
                       "' attribute");
  if (v->size() > max)
    return bad_request("'" + std::string(attr) + "' of <" + e.name() + "/> is longer than " +
                       std::to_string(max) + " bytes");
  return std::string(*v);
}

inline Result<std::uint32_t> required_u32(const xml::Element& e, std::string_view attr) {
  auto v = e.attr(attr);
  if (!v) return bad_request("<" + e.name() + "/> needs a '" + std::string(attr) + "' attribute");
  std::uint32_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size() || v->empty() ||
      (v->size() > 1 && v->front() == '0'))
    return bad_request("'" + std::string(attr) + "' of <" + e.name() +
                       "/> must be an unsigned decimal number");
  return out;
}

// count + digest attributes.
inline Result<StateDigest> required_digest(const xml::Element& e) {
  auto count = required_u32(e, "count");
  if (!count) return count.error();
  auto hex = e.attr("digest");
  if (!hex) return bad_request("<" + e.name() + "/> needs a 'digest' attribute");
  auto d = StateDigest::from_hex(*hex, *count);
  if (!d) return bad_request("'digest' must be 64 lowercase hex digits");
  return *d;
}

inline void put_digest(xml::Element& e, const StateDigest& d) {
  e.set_attr("count", std::to_string(d.count()));
  e.set_attr("digest", d.hex());
}

// JID shape checks: enough to keep garbage out; the server has already normalised JIDs.
inline bool is_full_jid(std::string_view j) {
  auto slash = j.find('/');
  return slash != std::string_view::npos && slash > 0 && slash + 1 < j.size() &&
         j.find('@') != 0;
}
inline bool is_bare_jid(std::string_view j) {
  return !j.empty() && j.find('/') == std::string_view::npos && j.front() != '@' &&
         j.back() != '@';
}

// Nothing but whitespace inside an element that must be empty of text.
inline bool blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace rpsync::proto::detail
