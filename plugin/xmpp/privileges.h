// SPDX-License-Identifier: MIT
// XEP-0356 (Privileged Entity) permissions as advertised by the server:
// <message from='HOST'><privilege xmlns='urn:xmpp:privilege:2|:1'><perm access='roster'
// type='get'/><perm access='presence' type='roster'/></privilege></message>.
// Prosody (mod_privilege) uses :2 and sends one message per host right after <handshake/>;
// ejabberd 23.01 uses :1 and sends it asynchronously.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/xml.h"

namespace rpsync::xmpp {

enum class RosterAccess { kNone, kGet, kSet, kBoth };
enum class PresenceAccess { kNone, kManagedEntity, kRoster };

struct HostPrivileges {
  std::string ns;  // urn:xmpp:privilege:2 or :1 as advertised
  RosterAccess roster = RosterAccess::kNone;
  PresenceAccess presence = PresenceAccess::kNone;
  std::string message;  // "outgoing" / "none" / "" as advertised (not needed by rpsync)

  // rpsync needs roster get (or both) and presence roster.
  bool sufficient() const;
  friend bool operator==(const HostPrivileges&, const HostPrivileges&) = default;
};

// Privileges per server host (the advertisement's `from`).
struct Privileges {
  std::map<std::string, HostPrivileges> hosts;
  bool has(std::string_view host) const { return hosts.contains(std::string(host)); }
  bool sufficient_for(std::string_view host) const;
};

struct Advertisement {
  std::string host;
  HostPrivileges privileges;
};

// Recognises an advertisement; nullopt for any other stanza (including a <message/> whose
// <privilege/> comes from a full JID: only the server itself may advertise).
std::optional<Advertisement> parse_advertisement(const xml::Element& stanza);

// What the operator must add so that `host` grants rpsync what it needs, naming the
// exact config lines for Prosody and ejabberd; empty when `p` (null = nothing
// advertised) is sufficient.
std::string missing_config(std::string_view component_jid, std::string_view host,
                           const HostPrivileges* p);

std::string_view to_string(RosterAccess a);
std::string_view to_string(PresenceAccess a);

}  // namespace rpsync::xmpp
