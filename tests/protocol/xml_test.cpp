// SPDX-License-Identifier: MIT
#include "protocol/xml.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rpsync::xml {
namespace {

Element parse_ok(std::string_view doc) {
  auto r = parse(doc);
  if (auto* err = std::get_if<ParseError>(&r)) ADD_FAILURE() << err->message << " in " << doc;
  return std::get_if<Element>(&r) ? std::get<Element>(r) : Element();
}

std::string parse_error(std::string_view doc, const ParseLimits& limits = {}) {
  auto r = parse(doc, limits);
  if (auto* err = std::get_if<ParseError>(&r)) return err->message;
  return {};
}

TEST(Xml, ResolvesNamespacesFromPrefixesAndDefaults) {
  auto e = parse_ok(
      "<iq xmlns='jabber:client' xmlns:r='urn:x' type='get'><r:q a='1'><c/></r:q></iq>");
  EXPECT_EQ(e.name(), "iq");
  EXPECT_EQ(e.ns(), "jabber:client");
  ASSERT_EQ(e.children().size(), 1u);
  const auto& q = e.children()[0];
  EXPECT_EQ(q.name(), "q");
  EXPECT_EQ(q.ns(), "urn:x");
  EXPECT_EQ(q.attr("a"), "1");
  ASSERT_EQ(q.children().size(), 1u);
  EXPECT_EQ(q.children()[0].ns(), "jabber:client") << "default namespace is inherited";
}

TEST(Xml, XmlLangIsAQualifiedAttribute) {
  auto e = parse_ok("<status xmlns='jabber:client' xml:lang='de'>Hallo</status>");
  EXPECT_EQ(e.attr(kXmlNs, "lang"), "de");
  EXPECT_FALSE(e.attr("lang"));
  EXPECT_EQ(to_string(e), "<status xmlns='jabber:client' xml:lang='de'>Hallo</status>");
}

TEST(Xml, SerialisesEscapedAndReparsesEquivalent) {
  Element e("presence", "jabber:client");
  e.set_attr("from", "a&b'<>\"@x/y");
  e.add(Element("status", "jabber:client")).set_text("<b>&'\"");
  e.add(Element("c", "http://jabber.org/protocol/caps")).set_attr("node", "n");
  std::string s = to_string(e);
  EXPECT_EQ(s.find("<b>"), std::string::npos);
  auto back = parse_ok(s);
  EXPECT_TRUE(equivalent(e, back)) << s;
  EXPECT_EQ(back.child("status")->text(), "<b>&'\"");
}

TEST(Xml, InheritedNamespaceIsNotRepeated) {
  Element e("iq", "jabber:component:accept");
  e.add(Element("query", "jabber:iq:roster"));
  EXPECT_EQ(to_string(e, "jabber:component:accept"),
            "<iq><query xmlns='jabber:iq:roster'/></iq>");
}

TEST(Xml, EquivalenceIgnoresAttributeOrderAndSurroundingWhitespace) {
  auto a = parse_ok("<a xmlns='x' p='1' q='2'>\n  <b>t</b>\n</a>");
  auto b = parse_ok("<a xmlns='x' q='2' p='1'><b> t </b></a>");
  EXPECT_TRUE(equivalent(a, b));
  auto c = parse_ok("<a xmlns='x' q='2' p='3'><b>t</b></a>");
  EXPECT_FALSE(equivalent(a, c));
  auto d = parse_ok("<a xmlns='y' q='2' p='1'><b>t</b></a>");
  EXPECT_FALSE(equivalent(a, d));
}

TEST(Xml, RejectsWhatXmppForbids) {
  EXPECT_NE(parse_error("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"), "");
  EXPECT_NE(parse_error("<a><!-- c --></a>"), "");
  EXPECT_NE(parse_error("<a><?pi x?></a>"), "");
  EXPECT_NE(parse_error("<a>&undefined;</a>"), "");
  EXPECT_NE(parse_error("<a><b></a>"), "");
  EXPECT_NE(parse_error("<a xmlns:p='u'><q:b/></a>"), "") << "unbound prefix";
  EXPECT_NE(parse_error(""), "");
}

TEST(Xml, EnforcesLimits) {
  ParseLimits limits;
  limits.max_depth = 3;
  EXPECT_EQ(parse_error("<a><b><c/></b></a>", limits), "");
  EXPECT_NE(parse_error("<a><b><c><d><e/></d></c></b></a>", limits), "");
  limits = {};
  limits.max_attributes = 2;
  EXPECT_NE(parse_error("<a x='1' y='2' z='3'/>", limits), "");
  limits = {};
  limits.max_element_bytes = 100;
  EXPECT_NE(parse_error("<a>" + std::string(200, 'x') + "</a>", limits), "");
}

struct Collected {
  std::vector<Element> opened;
  std::vector<Element> stanzas;
  int closed = 0;
  std::vector<std::string> errors;
  std::vector<Element> oversized;
  std::vector<SkipReason> reasons;
  StreamParser::Callbacks callbacks() {
    return {[this](const Element& root) { opened.push_back(root); },
            [this](Element e) { stanzas.push_back(std::move(e)); }, [this] { ++closed; },
            [this](const ParseError& e) { errors.push_back(e.message); },
            [this](Element head, SkipReason why) {
              oversized.push_back(std::move(head));
              reasons.push_back(why);
            }};
  }
};

constexpr std::string_view kStream =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='rpsync.example.test'>"
    "<handshake/> \n"
    "<presence from='a@example.test/r'><show>away</show></presence>"
    "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"
    "</stream:stream>";

TEST(StreamParser, ReportsRootStanzasAndCloseForAnyChunking) {
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, kStream.size()}) {
    Collected c;
    StreamParser p(c.callbacks());
    for (std::size_t off = 0; off < kStream.size(); off += chunk)
      ASSERT_TRUE(p.feed(kStream.substr(off, chunk)));
    ASSERT_EQ(c.opened.size(), 1u);
    EXPECT_EQ(c.opened[0].attr("id"), "abc");
    EXPECT_EQ(c.opened[0].name(), "stream");
    EXPECT_EQ(c.opened[0].ns(), "http://etherx.jabber.org/streams");
    ASSERT_EQ(c.stanzas.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(c.stanzas[0].name(), "handshake");
    EXPECT_EQ(c.stanzas[1].child("show")->text(), "away");
    EXPECT_EQ(c.stanzas[1].ns(), "jabber:component:accept");
    EXPECT_EQ(c.stanzas[2].child("query", "jabber:iq:roster")->ns(), "jabber:iq:roster");
    EXPECT_EQ(c.closed, 1);
    EXPECT_TRUE(c.errors.empty());
  }
}

TEST(StreamParser, OversizedStanzaIsAnErrorEvenWhenItNeverCloses) {
  Collected c;
  ParseLimits limits;
  limits.max_element_bytes = 1024;
  StreamParser p(c.callbacks(), limits);
  ASSERT_TRUE(p.feed("<stream:stream xmlns='jabber:component:accept' "
                     "xmlns:stream='http://etherx.jabber.org/streams'>"));
  ASSERT_TRUE(p.feed("<message><body>small</body></message>"));
  // One start tag that never ends: expat would buffer it forever without the limit.
  bool ok = true;
  for (int i = 0; i < 100 && ok; ++i) ok = p.feed(i == 0 ? "<message a='" : std::string(512, 'x'));
  EXPECT_FALSE(ok);
  EXPECT_TRUE(p.failed());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.stanzas.size(), 1u);
  EXPECT_FALSE(p.feed("<more/>")) << "stays failed until reset";
}

TEST(StreamParser, OversizedStanzaIsSkippedAndTheStreamGoesOn) {
  for (std::size_t chunk : {std::size_t{1000}, std::size_t{100000}}) {
    Collected c;
    ParseLimits limits;
    limits.max_element_bytes = 1024;
    StreamParser p(c.callbacks(), limits);
    std::string big = "<iq type='set' id='big' from='a@b/c'><sync xmlns='urn:xmpp:rpsync:0'>";
    for (int i = 0; i < 500; ++i) big += "<key stream='s' resource='r' last='l'>xxxx</key>";
    big += "</sync></iq>";
    std::string in = "<stream:stream xmlns='jabber:component:accept' "
                     "xmlns:stream='http://etherx.jabber.org/streams'>" +
                     big + "<presence from='x@y/z'/>";
    for (std::size_t off = 0; off < in.size(); off += chunk)
      ASSERT_TRUE(p.feed(std::string_view(in).substr(off, chunk))) << c.errors.at(0);
    ASSERT_EQ(c.oversized.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(c.oversized[0].name(), "iq");
    EXPECT_EQ(c.oversized[0].attr("id"), "big");
    EXPECT_EQ(c.oversized[0].attr("from"), "a@b/c");
    EXPECT_TRUE(c.oversized[0].children().empty());
    ASSERT_EQ(c.stanzas.size(), 1u);
    EXPECT_EQ(c.stanzas[0].name(), "presence");
  }
}

TEST(StreamParser, ManySmallStanzasDoNotTripTheSizeLimit) {
  Collected c;
  ParseLimits limits;
  limits.max_element_bytes = 256;
  StreamParser p(c.callbacks(), limits);
  ASSERT_TRUE(p.feed("<stream:stream xmlns='jabber:component:accept' "
                     "xmlns:stream='http://etherx.jabber.org/streams'>"));
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(p.feed("<presence from='u@h/r" + std::to_string(i) + "'/> "));
  EXPECT_EQ(c.stanzas.size(), 2000u);
}

TEST(StreamParser, GarbageIsReportedAndResetStartsAgain) {
  Collected c;
  StreamParser p(c.callbacks());
  EXPECT_FALSE(p.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><<<>>"));
  EXPECT_EQ(c.errors.size(), 1u);
  p.reset();
  EXPECT_TRUE(p.feed("<stream:stream xmlns='jabber:component:accept' "
                     "xmlns:stream='http://etherx.jabber.org/streams'><handshake/>"));
  EXPECT_EQ(c.opened.size(), 2u);
  EXPECT_EQ(c.stanzas.size(), 1u);
}


namespace {

constexpr std::string_view kOpen =
    "<stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams'>";

// Feeds `stanzas` between two small presences in chunks of `chunk` bytes; the stream must
// survive and deliver both presences.
void expect_skipped(const std::string& bad, const ParseLimits& limits, SkipReason why,
                    std::string_view what) {
  // Byte-by-byte only for small input: expat rescans an unfinished token on every feed.
  std::vector<std::size_t> chunks{4096, std::size_t{1} << 24};
  if (bad.size() < 20000) chunks.insert(chunks.end(), {1, 7});
  for (std::size_t chunk : chunks) {
    SCOPED_TRACE(std::string(what) + ", chunk " + std::to_string(chunk));
    Collected c;
    StreamParser p(c.callbacks(), limits);
    const std::string in = std::string(kOpen) + "<presence from='a@h/1'/>" + bad +
                           "<presence from='a@h/2'><show>dnd</show></presence>";
    for (std::size_t off = 0; off < in.size(); off += chunk)
      ASSERT_TRUE(p.feed(std::string_view(in).substr(off, chunk))) << c.errors.at(0);
    ASSERT_EQ(c.oversized.size(), 1u);
    EXPECT_EQ(c.reasons.at(0), why);
    EXPECT_EQ(c.oversized[0].attr("id"), "bad");
    EXPECT_EQ(c.oversized[0].attr("from"), "eve@h/x");
    EXPECT_EQ(c.oversized[0].attr("type"), "set");
    EXPECT_TRUE(c.oversized[0].children().empty());
    ASSERT_EQ(c.stanzas.size(), 2u);
    EXPECT_EQ(c.stanzas[1].child("show")->text(), "dnd");
    EXPECT_TRUE(c.errors.empty());
  }
}

std::string nested(int depth) {
  std::string s = "<iq type='set' id='bad' from='eve@h/x'>";
  for (int i = 0; i < depth; ++i) s += "<x xmlns='urn:n'>";
  for (int i = 0; i < depth; ++i) s += "</x>";
  return s + "</iq>";
}

}  // namespace

TEST(StreamParserSkip, DeepNestingIsSkippedNotFatal) {
  ParseLimits limits;
  limits.max_depth = 8;
  expect_skipped(nested(100), limits, SkipReason::kDepth, "deep");
  expect_skipped(nested(10000), limits, SkipReason::kDepth, "very deep");
}

TEST(StreamParserSkip, NestingAtTheLimitIsKept) {
  ParseLimits limits;
  limits.max_depth = 8;
  Collected c;
  StreamParser p(c.callbacks(), limits);
  ASSERT_TRUE(p.feed(std::string(kOpen) + nested(7)));
  EXPECT_EQ(c.stanzas.size(), 1u);
  EXPECT_TRUE(c.oversized.empty());
  ASSERT_TRUE(p.feed(nested(8)));
  EXPECT_EQ(c.oversized.size(), 1u) << "stanza + 8 levels is 9 deep";
}

TEST(StreamParserSkip, TooManyAttributesOnTheStanzaKeepsItsRoutingAttributes) {
  ParseLimits limits;
  limits.max_attributes = 8;
  std::string bad = "<iq type='set' id='bad' from='eve@h/x' to='c.h'";
  for (int i = 0; i < 500; ++i) bad += " a" + std::to_string(i) + "='v'";
  bad += "><q xmlns='urn:q'/></iq>";
  expect_skipped(bad, limits, SkipReason::kAttributes, "attributes on the stanza");
}

TEST(StreamParserSkip, TooManyAttributesOnAChild) {
  ParseLimits limits;
  limits.max_attributes = 8;
  std::string bad = "<iq type='set' id='bad' from='eve@h/x'><q xmlns='urn:q'><c";
  for (int i = 0; i < 100; ++i) bad += " a" + std::to_string(i) + "='v'";
  bad += "/></q></iq>";
  expect_skipped(bad, limits, SkipReason::kAttributes, "attributes on a child");
}

TEST(StreamParserSkip, HugeEscapedTextIsSkippedNotFatal) {
  // 70 KB of "'" re-escaped by the server: 420 KB of &apos; in one text node.
  ParseLimits limits;
  limits.max_element_bytes = 64 * 1024;
  limits.max_token_bytes = 64 * 1024;
  std::string text;
  for (int i = 0; i < 70000; ++i) text += "&apos;";
  expect_skipped("<iq type='set' id='bad' from='eve@h/x'><q xmlns='urn:q'>" + text + "</q></iq>",
                 limits, SkipReason::kBytes, "escaped text");
  // One unbroken run of text is reported as it arrives, not held as one token.
  expect_skipped("<iq type='set' id='bad' from='eve@h/x'>" + std::string(500000, 'x') + "</iq>",
                 limits, SkipReason::kBytes, "plain text");
}

TEST(StreamParserSkip, LargeAttributeValueUnderTheTokenLimitIsSkipped) {
  ParseLimits limits;
  limits.max_element_bytes = 64 * 1024;
  limits.max_token_bytes = 1 << 20;
  std::string value;
  for (int i = 0; i < 50000; ++i) value += "&apos;";  // 300 KB start tag
  expect_skipped("<iq type='set' id='bad' from='eve@h/x'><q xmlns='urn:q' v='" + value +
                     "'/></iq>",
                 limits, SkipReason::kBytes, "attribute value");
}

TEST(StreamParserSkip, ResultsHaveTheirOwnByteLimit) {
  ParseLimits limits;
  limits.max_element_bytes = 1024;
  limits.max_result_bytes = 1 << 20;
  Collected c;
  StreamParser p(c.callbacks(), limits);
  std::string items;
  for (int i = 0; i < 5000; ++i)
    items += "<item jid='c" + std::to_string(i) + "@h' subscription='both'/>";
  ASSERT_TRUE(p.feed(std::string(kOpen) + "<iq type='result' id='r1'><query xmlns='jabber:iq:roster'>" +
                     items + "</query></iq>"));
  ASSERT_EQ(c.stanzas.size(), 1u);
  EXPECT_EQ(c.stanzas[0].child("query", "jabber:iq:roster")->children().size(), 5000u);
  ASSERT_TRUE(p.feed("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'>" + items +
                     "</query></iq>"));
  EXPECT_EQ(c.oversized.size(), 1u) << "a set is held to max_element_bytes";
}

TEST(StreamParserSkip, ATokenOverTheTokenLimitStillEndsTheStream) {
  ParseLimits limits;
  limits.max_element_bytes = 1024;
  limits.max_token_bytes = 64 * 1024;
  Collected c;
  StreamParser p(c.callbacks(), limits);
  ASSERT_TRUE(p.feed(std::string(kOpen) + "<message a='"));
  bool ok = true;
  for (int i = 0; i < 100 && ok; ++i) ok = p.feed(std::string(4096, 'x'));
  EXPECT_FALSE(ok);
  EXPECT_EQ(c.errors.size(), 1u);
}

TEST(StreamParserSkip, MalformedXmlInsideASkippedStanzaEndsTheStream) {
  ParseLimits limits;
  limits.max_depth = 4;
  Collected c;
  StreamParser p(c.callbacks(), limits);
  EXPECT_FALSE(p.feed(std::string(kOpen) + "<iq><a><b><c><d><e></d></iq>"));
  EXPECT_EQ(c.errors.size(), 1u);
}

}  // namespace
}  // namespace rpsync::xml
