// SPDX-License-Identifier: MIT
// Pure parts of the component stream: backoff schedule, handshake digest, stream errors,
// privilege advertisements and the operator messages built from them.
#include <gtest/gtest.h>

#include "plugin/xmpp/backoff.h"
#include "plugin/xmpp/privileges.h"
#include "plugin/xmpp/stream.h"
#include "protocol/ns.h"

namespace rpsync::xmpp {
namespace {

using std::chrono::milliseconds;

xml::Element parse(std::string_view s) {
  auto r = xml::parse(s);
  EXPECT_TRUE(std::holds_alternative<xml::Element>(r)) << s;
  return std::get<xml::Element>(std::move(r));
}

TEST(Backoff, DoublesFromMinToMaxWithJitterInUpperHalf) {
  double r = 0.0;
  Backoff b(milliseconds(100), milliseconds(1000), [&] { return r; });
  // r = 0: the lower edge of [d/2, d].
  std::vector<long long> low;
  for (int i = 0; i < 6; ++i) low.push_back(b.next().count());
  EXPECT_EQ(low, (std::vector<long long>{50, 100, 200, 400, 500, 500}));
  b.reset();
  r = 0.999999;
  std::vector<long long> high;
  for (int i = 0; i < 6; ++i) high.push_back(b.next().count());
  EXPECT_EQ(high, (std::vector<long long>{99, 199, 399, 799, 999, 999}));
}

TEST(Backoff, ManyAttemptsNeverOverflowPastMax) {
  Backoff b(milliseconds(1), milliseconds(60'000), [] { return 0.5; });
  milliseconds last{0};
  for (int i = 0; i < 1000; ++i) last = b.next();
  EXPECT_LE(last, milliseconds(60'000));
  EXPECT_GE(last, milliseconds(30'000));
}

TEST(Handshake, DigestIsLowercaseHexSha1OfIdAndSecret) {
  // Vectors computed independently: python3 -c "hashlib.sha1(b'3BF96D75PrivateKey')".
  EXPECT_EQ(handshake_digest("3BF96D75", "PrivateKey"), "d62c102bb7ce4e5e094c3849193cfb234b8046c8");
  EXPECT_EQ(handshake_digest("abc", "s3cret"), "31998b73ea3a9f9924c37e68133695467a6701e6");
}

TEST(Stream, HeaderAddressesTheComponentInTheAcceptNamespace) {
  std::string h = stream_header("rpsync.example.test");
  EXPECT_NE(h.find("xmlns='jabber:component:accept'"), std::string::npos);
  EXPECT_NE(h.find("to='rpsync.example.test'"), std::string::npos);
}

TEST(Stream, ParsesStreamErrorConditionAndText) {
  auto e = parse(
      "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>"
      "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
      "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>");
  StreamError err = parse_stream_error(e);
  EXPECT_EQ(err.condition, "conflict");
  EXPECT_EQ(err.text, "Replaced");
  EXPECT_NE(explain(err, "c.example").find("c.example"), std::string::npos);
  auto empty = parse("<stream:error xmlns:stream='http://etherx.jabber.org/streams'/>");
  EXPECT_EQ(parse_stream_error(empty).condition, "undefined-condition");
}

TEST(Stream, ErrorBytesParseBackInsideAStream) {
  std::string doc = stream_header("x") + stream_error_bytes("policy-violation", "too <big>");
  std::vector<xml::Element> got;
  bool closed = false;
  xml::StreamParser p({.on_open = {},
                       .on_element = [&](xml::Element e) { got.push_back(std::move(e)); },
                       .on_close = [&] { closed = true; },
                       .on_error = {},
                       .on_skipped = {}});
  ASSERT_TRUE(p.feed(doc));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(closed);
  StreamError err = parse_stream_error(got[0]);
  EXPECT_EQ(err.condition, "policy-violation");
  EXPECT_EQ(err.text, "too <big>");
}

xml::Element component_stanza(std::string_view s) {
  // Parse inside a component stream so the stanza gets jabber:component:accept.
  std::vector<xml::Element> got;
  xml::StreamParser p({.on_open = {},
                       .on_element = [&](xml::Element e) { got.push_back(std::move(e)); },
                       .on_close = {},
                       .on_error = {},
                       .on_skipped = {}});
  p.feed(stream_header("rpsync.example.test"));
  p.feed(s);
  EXPECT_EQ(got.size(), 1u);
  return got.empty() ? xml::Element() : got[0];
}

TEST(Privileges, ParsesProsodyV2Advertisement) {
  auto ad = parse_advertisement(component_stanza(
      "<message from='example.test' to='rpsync.example.test'>"
      "<privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/>"
      "<perm access='presence' type='roster'/></privilege></message>"));
  ASSERT_TRUE(ad);
  EXPECT_EQ(ad->host, "example.test");
  EXPECT_EQ(ad->privileges.ns, ns::kPrivilege2);
  EXPECT_EQ(ad->privileges.roster, RosterAccess::kGet);
  EXPECT_EQ(ad->privileges.presence, PresenceAccess::kRoster);
  EXPECT_TRUE(ad->privileges.sufficient());
  EXPECT_EQ(missing_config("rpsync.example.test", "example.test", &ad->privileges), "");
}

TEST(Privileges, ParsesEjabberdV1AndFlagsInsufficient) {
  auto ad = parse_advertisement(component_stanza(
      "<message from='example.test'><privilege xmlns='urn:xmpp:privilege:1'>"
      "<perm access='roster' type='both'/><perm access='presence' type='managed_entity'/>"
      "</privilege></message>"));
  ASSERT_TRUE(ad);
  EXPECT_EQ(ad->privileges.ns, ns::kPrivilege1);
  EXPECT_EQ(ad->privileges.roster, RosterAccess::kBoth);
  EXPECT_EQ(ad->privileges.presence, PresenceAccess::kManagedEntity);
  EXPECT_FALSE(ad->privileges.sufficient());
  std::string fix = missing_config("rpsync.example.test", "example.test", &ad->privileges);
  EXPECT_NE(fix.find("presence=managed_entity"), std::string::npos) << fix;
  EXPECT_NE(fix.find("privileged_entities = { [\"rpsync.example.test\"] = { roster = \"get\"; "
                     "presence = \"roster\"; } }"),
            std::string::npos)
      << fix;
  EXPECT_NE(fix.find("mod_privilege: roster: get: RULE, presence: roster: RULE"),
            std::string::npos)
      << fix;
}

TEST(Privileges, IgnoresAdvertisementFromAUserOrWithoutPrivilege) {
  EXPECT_FALSE(parse_advertisement(component_stanza(
      "<message from='mallory@example.test/x'><privilege xmlns='urn:xmpp:privilege:2'>"
      "<perm access='roster' type='get'/></privilege></message>")));
  EXPECT_FALSE(parse_advertisement(component_stanza("<message from='example.test'/>")));
  EXPECT_FALSE(parse_advertisement(component_stanza(
      "<presence from='example.test'><privilege xmlns='urn:xmpp:privilege:2'/></presence>")));
}

}  // namespace
}  // namespace rpsync::xmpp
