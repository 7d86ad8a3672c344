// SPDX-License-Identifier: MIT
// Fuzz target over the XML layer and every rpsync element parser.
// Properties checked besides "no crash, no sanitizer report":
//  - whatever an element parser accepts serialises to XML that parses back to the same value;
//  - the stream parser gives the same stanzas however the input is chunked.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/delta.h"
#include "protocol/payload.h"
#include "protocol/session.h"
#include "protocol/sync.h"
#include "protocol/xml.h"

namespace {

using namespace rpsync;

void check(bool ok) {
  if (!ok) std::abort();
}

template <class T, class Parse>
void round_trip(const xml::Element& e, Parse parse) {
  auto first = parse(e, proto::kDefaultLimits);
  if (!first.ok()) return;
  std::string text = xml::to_string(proto::to_xml(*first));
  auto reparsed = xml::parse(text);
  check(std::holds_alternative<xml::Element>(reparsed));
  auto second = parse(std::get<xml::Element>(reparsed), proto::kDefaultLimits);
  check(second.ok());
  check(*second == *first);
}

void element_parsers(const xml::Element& e) {
  round_trip<proto::Enable>(e, proto::parse_enable);
  round_trip<proto::Enabled>(e, proto::parse_enabled);
  round_trip<proto::Checkpoint>(e, proto::parse_checkpoint);
  round_trip<proto::Checkpointed>(e, proto::parse_checkpointed);
  round_trip<proto::Disable>(e, proto::parse_disable);
  round_trip<proto::Sync>(e, proto::parse_sync);
  round_trip<proto::Delta>(e, proto::parse_delta);
  (void)proto::parse_request(e);
  (void)proto::parse_stanza_error(e);
  for (const auto& c : e.children()) {
    (void)proto::parse_request(c);
    round_trip<proto::Delta>(c, proto::parse_delta);
  }
}

std::vector<std::string> stream_stanzas(std::string_view in, std::size_t chunk) {
  std::vector<std::string> out;
  xml::StreamParser p({{}, [&](xml::Element e) { out.push_back(xml::to_string(e)); }, {}, {}});
  for (std::size_t off = 0; off < in.size(); off += chunk)
    if (!p.feed(in.substr(off, chunk))) break;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto doc = xml::parse(in);
  if (auto* e = std::get_if<xml::Element>(&doc)) element_parsers(*e);

  // Stanzas that complete must not depend on how the bytes were split.
  std::string stream = "<stream:stream xmlns='jabber:component:accept' "
                       "xmlns:stream='http://etherx.jabber.org/streams'>";
  stream.append(in);
  auto whole = stream_stanzas(stream, stream.size());
  auto bytewise = stream_stanzas(stream, 1 + size % 7);
  check(whole == bytewise);
  return 0;
}
