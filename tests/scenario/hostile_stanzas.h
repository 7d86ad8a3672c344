// SPDX-License-Identifier: MIT
// Hostile stanza bodies that Prosody relays to the component but the component will not
// hold (spec "Stanzas the Component Does Not Read"), shared by the scenarios that send
// them: nesting 200 deep, 1000 attributes, a 70 KB text of apostrophes (420 KB once
// Prosody re-escapes it). Each is over a default incoming bound or, for the text, over a
// --max-incoming-stanza-bytes of 65536.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tests/scenario/party.h"

namespace rpsync::test::scenario {

struct Hostile {
  std::string name;
  std::string payload;  // raw XML, one element in its own namespace
};

inline std::vector<Hostile> hostile_payloads() {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "<x xmlns='urn:example:deep'>";
  for (int i = 0; i < 200; ++i) deep += "</x>";
  std::string attrs = "<x xmlns='urn:example:attrs'";
  for (int i = 0; i < 1000; ++i) attrs += " a" + std::to_string(i) + "='v'";
  attrs += "/>";
  // Raw "'" in text is legal; Prosody re-escapes each as &apos;: 70 KB -> 420 KB.
  std::string huge = "<x xmlns='urn:example:huge'>" + std::string(70'000, '\'') + "</x>";
  return {{"nesting 200 deep", deep}, {"1000 attributes", attrs}, {"70 KB of '", huge}};
}

// Sends one raw stanza so that Prosody parses it at once: its expat defers a large
// unfinished token until enough further bytes arrive (reparse deferral), so whitespace
// follows the stanza.
inline bool sends_parsed_now(Party& p, const std::string& stanza) {
  return p.raw().send_raw(stanza + std::string(stanza.size() + 4096, ' '));
}

// Occurrences of `needle` in `hay` (e.g. log events).
inline std::size_t count_of(const std::string& hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// The stanza that carries `body` to the component `to` by one of four routes: 0 an IQ set
// (inside <enable/>, id `id`), 1 a message, 2 a broadcast presence, 3 presence directed to it.
inline std::string route_stanza(int route, const std::string& to, const std::string& id,
                                const std::string& body) {
  switch (route) {
    case 0:
      return "<iq type='set' id='" + id + "' to='" + to +
             "'><enable xmlns='urn:xmpp:rpsync:0' stream='x'>" + body + "</enable></iq>";
    case 1:
      return "<message to='" + to + "'>" + body + "</message>";
    case 2:
      return "<presence>" + body + "</presence>";
    default:
      return "<presence to='" + to + "'>" + body + "</presence>";
  }
}

}  // namespace rpsync::test::scenario
