// SPDX-License-Identifier: MIT
// The client's own service discovery: its disco#info answer (identity client/pc and its
// features, urn:xmpp:rpsync:0 among them) and the XEP-0115 verification string of that
// answer, so the feature appears in the client's entity capabilities.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocol/xml.h"

namespace rpsync::strophe {

// disco#info, caps and urn:xmpp:rpsync:0, sorted.
std::vector<std::string> own_features();
// The answer to a disco#info get addressed to the client (the query's 'node' is echoed),
// or nullopt when `iq` is not such a get.
std::optional<xml::Element> disco_info_answer(const xml::Element& iq,
                                              const std::vector<std::string>& features);
// XEP-0115 5.1 'ver' (SHA-1, base64) of identity client/pc and `features`.
std::string caps_ver(const std::vector<std::string>& features);
// <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node=`node` ver=`ver`/>.
xml::Element caps_element(const std::string& node, const std::string& ver);

}  // namespace rpsync::strophe
