// SPDX-License-Identifier: MIT
#include "client_ext/tag_convert.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "gloox_parse.h"
#include "protocol/xml.h"

namespace rpsync::client {
namespace {

using testing::gloox_parse;

xml::Element rpsync_parse(std::string_view doc) {
  auto parsed = xml::parse(doc);
  EXPECT_TRUE(std::holds_alternative<xml::Element>(parsed));
  return std::get<xml::Element>(std::move(parsed));
}

// Documents as they appear on an XMPP stream: inherited default namespaces, a prefixed
// child, escaped text, xml:lang, nested elements in foreign namespaces.
const char* const kDocs[] = {
    "<presence xmlns='jabber:client' from='a@b/c' xml:lang='en'>"
    "<show>away</show><status>hi &amp; &lt;there&gt; &apos;x&apos;</status><priority>-5</priority>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://n' ver='v='/>"
    "<x xmlns='vcard-temp:x:update'><photo>abc</photo></x>"
    "<idle xmlns='urn:xmpp:idle:1' since='2026-01-01T00:00:00Z'/></presence>",
    "<delta xmlns='urn:xmpp:rpsync:0' lifetime='604800' count='1' digest='00'>"
    "<new jid='a@b/c'><show>dnd</show></new><changed jid='d@e/f'><unset field='status'/></changed>"
    "<unavailable jid='g@h/i'/><contact jid='j@k' change='removed'/></delta>",
    "<sync xmlns='urn:xmpp:rpsync:0' stream='s1'><key stream='s0' resource='r' last='i9'/></sync>",
    "<presence xmlns='jabber:client'><x:c xmlns:x='http://jabber.org/protocol/caps' "
    "node='n'/></presence>",
};

TEST(TagConvert, GlooxParsedTagMatchesRpsyncParser) {
  for (const char* doc : kDocs) {
    SCOPED_TRACE(doc);
    auto tag = gloox_parse(doc);
    ASSERT_NE(tag, nullptr);
    EXPECT_TRUE(xml::equivalent(to_element(*tag), rpsync_parse(doc)))
        << xml::to_string(to_element(*tag));
  }
}

TEST(TagConvert, ElementToTagToElementRoundTrips) {
  for (const char* doc : kDocs) {
    SCOPED_TRACE(doc);
    const xml::Element original = rpsync_parse(doc);
    auto tag = to_tag(original);
    ASSERT_NE(tag, nullptr);
    EXPECT_TRUE(xml::equivalent(to_element(*tag), original));
    // And through gloox's serialiser and parser, as on the wire.
    auto reparsed = gloox_parse(tag->xml());
    ASSERT_NE(reparsed, nullptr) << tag->xml();
    EXPECT_TRUE(xml::equivalent(to_element(*reparsed), original)) << tag->xml();
  }
}

TEST(TagConvert, ChildNamespaceWrittenOnlyWhereItChanges) {
  xml::Element e("enable", "urn:xmpp:rpsync:0");
  e.set_attr("stream", "abc");
  e.add(xml::Element("key", "urn:xmpp:rpsync:0")).set_attr("last", "1");
  e.add(xml::Element("other", "urn:other"));
  auto tag = to_tag(e);
  const std::string out = tag->xml();
  EXPECT_NE(out.find("<enable xmlns='urn:xmpp:rpsync:0' stream='abc'>"), std::string::npos) << out;
  EXPECT_NE(out.find("<key last='1'/>"), std::string::npos) << out;
  EXPECT_NE(out.find("<other xmlns='urn:other'/>"), std::string::npos) << out;
}

TEST(TagConvert, NamespaceDeclarationsAreNotAttributes) {
  auto tag = gloox_parse("<a xmlns='urn:a' xmlns:p='urn:p' k='v'><p:b/></a>");
  ASSERT_NE(tag, nullptr);
  const xml::Element e = to_element(*tag);
  ASSERT_EQ(e.attrs().size(), 1u);
  EXPECT_EQ(e.attrs()[0].name, "k");
  ASSERT_EQ(e.children().size(), 1u);
  EXPECT_EQ(e.children()[0].ns(), "urn:p");
}

}  // namespace
}  // namespace rpsync::client
