// SPDX-License-Identifier: MIT
#include "protocol/presence.h"

#include <gtest/gtest.h>

#include "protocol/limits.h"
#include "protocol/ns.h"

namespace rpsync::proto {
namespace {

xml::Element parse_ok(std::string_view doc) {
  return std::get<xml::Element>(xml::parse(doc));
}

TEST(Presence, CanonicalisesAPresenceStanza) {
  auto p = fields_from_presence(
      parse_ok("<presence xmlns='jabber:client' from='bob@example.test/laptop'>"
               "<show>dnd</show><status>meeting</status><status xml:lang='de'>Sitzung</status>"
               "<priority>5</priority>"
               "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' "
               "ver='abc='/>"
               "<x xmlns='vcard-temp:x:update'><photo>01ab</photo></x>"
               "<idle xmlns='urn:xmpp:idle:1' since='2026-11-21T10:00:00Z'/>"
               "<delay xmlns='urn:xmpp:delay' stamp='2026-11-21T10:00:00Z'/>"
               "</presence>"));
  EXPECT_EQ(p.show, Show::kDnd);
  EXPECT_EQ(p.status, "meeting") << "the first status wins";
  EXPECT_EQ(p.priority, 5);
  ASSERT_TRUE(p.caps);
  EXPECT_EQ(*p.caps, (Caps{"sha-1", "https://gajim.org", "abc="}));
  EXPECT_EQ(p.photo, "01ab");
  EXPECT_EQ(p.idle_since, "2026-11-21T10:00:00Z");
}

TEST(Presence, LenientOnWhatTheServerAlreadyAccepted) {
  auto p = fields_from_presence(parse_ok(
      "<presence xmlns='jabber:component:accept'><show>bogus</show><priority>900</priority>"
      "<c xmlns='http://jabber.org/protocol/caps' node='n'/><x xmlns='vcard-temp:x:update'>"
      "<photo/></x></presence>"));
  EXPECT_EQ(p.show, Show::kNone);
  EXPECT_EQ(p.priority, 127);
  EXPECT_FALSE(p.caps) << "caps without ver is ignored";
  EXPECT_TRUE(p.photo.empty());
  EXPECT_EQ(fields_from_presence(parse_ok("<presence xmlns='jabber:client'><priority>-7"
                                          "</priority></presence>"))
                .priority,
            -7);
  EXPECT_EQ(fields_from_presence(parse_ok("<presence xmlns='jabber:client'><priority>x"
                                          "</priority></presence>"))
                .priority,
            0);
}

PresenceFields of(std::string_view children) {
  return fields_from_presence(
      parse_ok("<presence xmlns='jabber:client'>" + std::string(children) + "</presence>"));
}

TEST(Presence, PriorityIsSignedDigitsBetweenXmlSpaceElseZero) {
  EXPECT_EQ(of("<priority> 5</priority>").priority, 5);
  EXPECT_EQ(of("<priority>\n\t-5 \r</priority>").priority, -5);
  EXPECT_EQ(of("<priority>+5</priority>").priority, 5);
  EXPECT_EQ(of("<priority>abc</priority>").priority, 0);
  EXPECT_EQ(of("<priority>5abc</priority>").priority, 0);
  EXPECT_EQ(of("<priority>5 5</priority>").priority, 0);
  EXPECT_EQ(of("<priority>--5</priority>").priority, 0);
  EXPECT_EQ(of("<priority>-</priority>").priority, 0);
  EXPECT_EQ(of("<priority></priority>").priority, 0);
  EXPECT_EQ(of("<priority>\u00a05</priority>").priority, 0) << "only XML space is trimmed";
  EXPECT_EQ(of("<priority>128</priority>").priority, 127);
  EXPECT_EQ(of("<priority>-129</priority>").priority, -128);
  EXPECT_EQ(of("<priority>99999999999999999999999</priority>").priority, 127);
  EXPECT_EQ(of("<priority>-0007</priority>").priority, -7);
}

TEST(Presence, TheFirstShowStatusAndPriorityCount) {
  auto p =
      of("<show>away</show><show>dnd</show><status>a</status><status>b</status>"
         "<priority>3</priority><priority>9</priority>");
  EXPECT_EQ(p.show, Show::kAway);
  EXPECT_EQ(p.status, "a");
  EXPECT_EQ(p.priority, 3);
  EXPECT_EQ(of("<show>bogus</show><show>dnd</show>").show, Show::kNone)
      << "an unknown first show still counts (as none)";
}

TEST(Presence, IdleNeedsAnXsDateTime) {
  auto idle = [](std::string since) {
    return of("<idle xmlns='urn:xmpp:idle:1' since='" + since + "'/>").idle_since;
  };
  for (const char* ok : {"2026-11-21T20:15:00Z", "2026-11-21T20:15:00.123+02:00",
                         "2026-11-21T20:15:00", "-0044-03-15T12:00:00Z", "12026-01-01T00:00:00Z",
                         "2026-12-31T24:00:00Z", "2026-01-01T00:00:00-14:00"})
    EXPECT_EQ(idle(ok), ok);
  for (const char* bad : {"", "yesterday", "2026-11-21", "2026-11-21 20:15:00Z",
                          "2026-13-01T00:00:00Z", "2026-11-21T25:00:00Z", "2026-11-21T24:00:01Z",
                          "0000-01-01T00:00:00Z", "02026-01-01T00:00:00Z", "2026-11-21T20:15:00.Z",
                          "2026-11-21T20:15:00+15:00", "2026-11-21T20:15:00z", "2026-11-21T20:15"})
    EXPECT_EQ(idle(bad), "") << bad;
  EXPECT_EQ(of("<idle xmlns='urn:xmpp:idle:1'/>").idle_since, "");
}

TEST(Presence, Utf8PrefixNeverSplitsACharacter) {
  EXPECT_EQ(utf8_prefix("abc", 3), "abc");
  EXPECT_EQ(utf8_prefix("abc", 2), "ab");
  EXPECT_EQ(utf8_prefix("a\xC3\xA9", 2), "a") << "U+00E9 is two bytes";
  EXPECT_EQ(utf8_prefix("a\xC3\xA9", 3), "a\xC3\xA9");
  EXPECT_EQ(utf8_prefix("\xF0\x9F\x98\x80x", 3), "") << "a four-byte character goes whole";
  EXPECT_EQ(utf8_prefix("\xF0\x9F\x98\x80x", 4), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8_prefix("\xE2\x82\xAC\xE2\x82\xAC", 5), "\xE2\x82\xAC");
  EXPECT_EQ(utf8_prefix("", 0), "");
}

std::string presence_with(std::string_view children) {
  return "<presence xmlns='jabber:client'>" + std::string(children) + "</presence>";
}

TEST(Presence, StatusOverTheLimitIsCutOnACharacterBoundary) {
  const std::size_t max = kDefaultLimits.max_status;
  const std::string exact(max, 's');
  EXPECT_EQ(fields_from_presence(parse_ok(presence_with("<status>" + exact + "</status>"))).status,
            exact);
  // max-1 ASCII bytes, then a two-byte character that would end one byte past the limit.
  const std::string head(max - 1, 'a');
  auto p =
      fields_from_presence(parse_ok(presence_with("<status>" + head + "\xC3\xA9" + "b</status>")));
  EXPECT_EQ(p.status, head);
  // Escaped text counts by what it stands for: 2000 apostrophes are 2000 bytes of status.
  std::string escaped;
  for (int i = 0; i < 2000; ++i) escaped += "&apos;";
  p = fields_from_presence(parse_ok(presence_with("<status>" + escaped + "</status>")));
  EXPECT_EQ(p.status, std::string(max, '\''));
}

TEST(Presence, CapsPhotoIdleOverTheLimitCountAsAbsent) {
  const std::string big(kDefaultLimits.max_field + 1, 'v');
  auto p = fields_from_presence(parse_ok(
      presence_with("<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='" + big +
                    "'/>"
                    "<x xmlns='vcard-temp:x:update'><photo>" +
                    big +
                    "</photo></x>"
                    "<idle xmlns='urn:xmpp:idle:1' since='2026-11-21T10:00:00." +
                    std::string(kDefaultLimits.max_field, '1') + "Z'/>")));
  EXPECT_FALSE(p.caps);
  EXPECT_EQ(p.photo, "");
  EXPECT_EQ(p.idle_since, "");
  const std::string fits(kDefaultLimits.max_field, 'v');
  p = fields_from_presence(parse_ok(presence_with(
      "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='" + fits +
      "'/>"
      "<x xmlns='vcard-temp:x:update'><photo>" +
      fits + "</photo></x>")));
  ASSERT_TRUE(p.caps);
  EXPECT_EQ(p.caps->ver, fits);
  EXPECT_EQ(p.photo, fits);
  // A valid xs:dateTime of a long fraction stays while it fits.
  const std::string since = "2026-11-21T10:00:00." + std::string(1000, '1') + "Z";
  ASSERT_TRUE(is_xs_datetime(since));
  p = fields_from_presence(
      parse_ok(presence_with("<idle xmlns='urn:xmpp:idle:1' since='" + since + "'/>")));
  EXPECT_EQ(p.idle_since, since);
}

TEST(Presence, ChildrenRoundTrip) {
  PresenceFields p;
  p.show = Show::kXa;
  p.status = "zzz";
  p.priority = -3;
  p.caps = Caps{"", "legacy", "1.0"};
  p.photo = "ff";
  p.idle_since = "2026-01-01T00:00:00Z";
  xml::Element presence("presence", std::string(ns::kClient));
  add_presence_children(presence, p);
  auto back = fields_from_presence(parse_ok(xml::to_string(presence)));
  EXPECT_EQ(back, p);
}

TEST(Presence, FieldMasks) {
  PresenceFields a, b;
  EXPECT_EQ(differing(a, b), 0);
  EXPECT_EQ(set_fields(a), 0);
  b.status = "x";
  b.priority = 1;
  EXPECT_EQ(differing(a, b), bit(Field::kStatus) | bit(Field::kPriority));
  copy_fields(a, b, bit(Field::kStatus));
  EXPECT_EQ(a.status, "x");
  EXPECT_EQ(a.priority, 0);
  reset_fields(b, kAllFields);
  EXPECT_EQ(b, PresenceFields{});
  for (Field f : kFieldsInOrder) EXPECT_EQ(field_from(field_name(f)), f);
  EXPECT_FALSE(field_from("jid"));
}

}  // namespace
}  // namespace rpsync::proto
