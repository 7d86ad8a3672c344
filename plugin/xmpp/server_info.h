// SPDX-License-Identifier: MIT
// What the component learns about its server at connect, instead of trusting its config:
// a served domain's disco#info (identities, features: mod_rpsync_gate advertises
// urn:xmpp:rpsync:0#synced) and which server software it is. Pure functions over stanzas.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ns.h"
#include "protocol/xml.h"

namespace rpsync::xmpp {

inline constexpr std::string_view kGateFeature = "urn:xmpp:rpsync:0#synced";
// mod_rpsync_gate for ejabberd: session ends reported, presence re-sent on connect.
inline constexpr std::string_view kSessionsFeature = ns::kRpsyncSessions;

struct DiscoIdentity {
  std::string category, type, name;
};

struct DiscoInfo {
  std::vector<DiscoIdentity> identities;
  std::set<std::string, std::less<>> features;
  bool has(std::string_view feature) const { return features.contains(feature); }
};

// The <iq type='get'><query xmlns='disco#info'/></iq> to send to `domain`.
xml::Element disco_info_request(std::string_view from, std::string_view domain);
// The query of an <iq type='result'/> answer (missing query = nothing advertised).
DiscoInfo parse_disco_info(const xml::Element& iq_result);

enum class Software { kUnknown, kProsody, kEjabberd };
std::string_view to_string(Software s);  // "unknown", "prosody", "ejabberd"
// The configured name of a known server software (server.software): prosody or ejabberd.
std::optional<Software> software_from(std::string_view name);

// From the server identity's name (Prosody's mod_disco says "Prosody", ejabberd
// "ejabberd"), else from the XEP-0356 namespace it advertised privileges in (Prosody 0.12
// uses urn:xmpp:privilege:2, ejabberd 23.01 urn:xmpp:privilege:1).
Software detect_software(const DiscoInfo& info, std::string_view privilege_ns);

}  // namespace rpsync::xmpp
