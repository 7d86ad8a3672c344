// SPDX-License-Identifier: MIT
#include "plugin/xmpp/privileges.h"

#include "protocol/ns.h"

namespace rpsync::xmpp {

bool HostPrivileges::sufficient() const {
  return (roster == RosterAccess::kGet || roster == RosterAccess::kBoth) &&
         presence == PresenceAccess::kRoster;
}

bool Privileges::sufficient_for(std::string_view host) const {
  auto it = hosts.find(std::string(host));
  return it != hosts.end() && it->second.sufficient();
}

std::string_view to_string(RosterAccess a) {
  switch (a) {
    case RosterAccess::kNone: return "none";
    case RosterAccess::kGet: return "get";
    case RosterAccess::kSet: return "set";
    case RosterAccess::kBoth: return "both";
  }
  return "none";
}

std::string_view to_string(PresenceAccess a) {
  switch (a) {
    case PresenceAccess::kNone: return "none";
    case PresenceAccess::kManagedEntity: return "managed_entity";
    case PresenceAccess::kRoster: return "roster";
  }
  return "none";
}

std::optional<Advertisement> parse_advertisement(const xml::Element& stanza) {
  if (!stanza.is("message", ns::kComponent)) return std::nullopt;
  const xml::Element* priv = stanza.child("privilege", ns::kPrivilege2);
  if (!priv) priv = stanza.child("privilege", ns::kPrivilege1);
  if (!priv) return std::nullopt;
  auto from = stanza.attr("from");
  if (!from || from->empty() || from->find_first_of("@/") != std::string_view::npos)
    return std::nullopt;
  Advertisement ad;
  ad.host = std::string(*from);
  ad.privileges.ns = priv->ns();
  for (const auto& perm : priv->children()) {
    if (perm.name() != "perm" || perm.ns() != priv->ns()) continue;
    auto access = perm.attr("access").value_or("");
    auto type = perm.attr("type").value_or("none");
    if (access == "roster") {
      if (type == "get") ad.privileges.roster = RosterAccess::kGet;
      else if (type == "set") ad.privileges.roster = RosterAccess::kSet;
      else if (type == "both") ad.privileges.roster = RosterAccess::kBoth;
    } else if (access == "presence") {
      if (type == "roster") ad.privileges.presence = PresenceAccess::kRoster;
      else if (type == "managed_entity") ad.privileges.presence = PresenceAccess::kManagedEntity;
    } else if (access == "message") {
      ad.privileges.message = std::string(type);
    }
  }
  return ad;
}

std::string missing_config(std::string_view component_jid, std::string_view host,
                           const HostPrivileges* p) {
  if (p && p->sufficient()) return {};
  std::string c(component_jid);
  std::string h(host);
  std::string what;
  if (!p) {
    what = "the server advertised no privileges for host " + h;
  } else {
    what = "host " + h + " grants roster=" + std::string(to_string(p->roster)) +
           " presence=" + std::string(to_string(p->presence)) +
           " but rpsync needs roster=get presence=roster";
  }
  return what + ". Prosody: in VirtualHost \"" + h + "\" set privileged_entities = { [\"" + c +
         "\"] = { roster = \"get\"; presence = \"roster\"; } } and enable module \"privilege\" "
         "on the host and on Component \"" + c +
         "\". ejabberd: modules: mod_privilege: roster: get: RULE, presence: roster: RULE "
         "(RULE an access rule matching " + c + ")";
}

}  // namespace rpsync::xmpp
