// SPDX-License-Identifier: MIT
// XML namespaces used on the wire.
#pragma once

#include <string_view>

namespace rpsync::ns {

inline constexpr std::string_view kRpsync = "urn:xmpp:rpsync:0";
// Server features (disco#info of the users' host): the gate skips the probes of a marked
// initial presence; the server reports session ends and re-sends presence on connect.
inline constexpr std::string_view kRpsyncSynced = "urn:xmpp:rpsync:0#synced";
inline constexpr std::string_view kRpsyncSessions = "urn:xmpp:rpsync:0#sessions";
inline constexpr std::string_view kStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kStreams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view kClient = "jabber:client";
inline constexpr std::string_view kComponent = "jabber:component:accept";
inline constexpr std::string_view kCaps = "http://jabber.org/protocol/caps";
inline constexpr std::string_view kVcardUpdate = "vcard-temp:x:update";
inline constexpr std::string_view kIdle = "urn:xmpp:idle:1";
inline constexpr std::string_view kDelay = "urn:xmpp:delay";
inline constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
inline constexpr std::string_view kPing = "urn:xmpp:ping";
inline constexpr std::string_view kVersion = "jabber:iq:version";
inline constexpr std::string_view kRoster = "jabber:iq:roster";
inline constexpr std::string_view kPrivilege1 = "urn:xmpp:privilege:1";
inline constexpr std::string_view kPrivilege2 = "urn:xmpp:privilege:2";
inline constexpr std::string_view kForward = "urn:xmpp:forward:0";

}  // namespace rpsync::ns
