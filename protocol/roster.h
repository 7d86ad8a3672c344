// SPDX-License-Identifier: MIT
// jabber:iq:roster (RFC 6121 §2) as far as the component uses it: the privileged roster
// get it sends for a user (XEP-0356), and the result, read by the versioning contract of
// RFC 6121 §2.6 that mod_rpsync_gate implements: a result without a child means
// "unchanged since the version quoted"; a <query/> is the full roster, versioned if it
// carries a non-empty `ver`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "xml.h"

namespace rpsync::proto {

// Longer versions are not quoted back (a server's version is a counter or a hash).
inline constexpr std::size_t kMaxRosterVersion = 1024;

struct RosterItem {
  std::string jid;
  std::string subscription = "none";  // none, to, from, both, remove
  // Whether the user receives this contact's presence (spec: Privacy): `to` or `both`.
  bool visible() const { return subscription == "to" || subscription == "both"; }
  friend bool operator==(const RosterItem&, const RosterItem&) = default;
};

struct RosterResult {
  bool unchanged = false;          // no <query/>: unchanged since the quoted version
  std::optional<std::string> ver;  // non-empty and at most kMaxRosterVersion bytes
  std::vector<RosterItem> items;   // <item/>s with a jid, in document order
  friend bool operator==(const RosterResult&, const RosterResult&) = default;
};

// <iq type='get' from=`from` to=`user`><query xmlns='jabber:iq:roster' [ver]/></iq>:
// `ver` is quoted when set ("" = "I version, and hold nothing", RFC 6121 §2.6.2).
xml::Element roster_get(std::string_view from, std::string_view user,
                        const std::optional<std::string>& ver);
// The <iq type='result'/> a server answers `r` with (no child when r.unchanged).
xml::Element to_xml(const RosterResult& r, std::string_view from, std::string_view to);
// Reads a roster get's result stanza. A child other than the roster query is an error
// (not-ready, text "roster result without a query"); items without a jid are skipped, a
// missing subscription is "none", a version that is empty or too long is not kept.
Result<RosterResult> parse_roster_result(const xml::Element& iq_result);
// The jids of r's visible items, in order (moved out of r).
std::vector<std::string> visible_contacts(RosterResult r);

}  // namespace rpsync::proto
