// SPDX-License-Identifier: MIT
// The digest worked example of the rpsync XEP ("Digest" / "Worked Example") against the
// protocol library. The expected values are read from the spec's tables, so the spec and
// the code cannot drift apart; the state is built twice, by hand from proto types and by
// canonicalising the example's XMPP presences, and both must agree.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "protocol/digest.h"
#include "protocol/ns.h"
#include "protocol/presence.h"
#include "protocol/state.h"
#include "protocol/xml.h"
#include "tests/xep/xep_document.h"

namespace rpsync::xeptest {
namespace {

constexpr const char* kR1 = "romeo@montague.example/orchard";
constexpr const char* kR2 = "nurse@example.test/kitchen";

// The two resources as the spec's prose and presence example describe them.
proto::PresenceFields romeo() {
  proto::PresenceFields p;
  p.show = proto::Show::kAway;
  p.status = "\xc3\x80 la fen\xc3\xaatre";  // "À la fenêtre": 12 characters, 14 bytes
  p.priority = 5;
  p.caps = proto::Caps{"sha-1", "https://gajim.org", "q07IKJEyjvHSyhy//CH0CxmKi8w="};
  p.photo = "01b87fcd030b72895ff8e88db57ec525450f000d";
  p.idle_since = "2026-11-21T20:15:00Z";
  return p;
}

proto::PresenceFields nurse() {
  proto::PresenceFields p;
  p.priority = -1;
  p.caps = proto::Caps{"", "http://psi-im.org/caps", "0.15"};  // legacy caps: empty hash
  return p;
}

std::string hex_of(const proto::ResourceHash& h) {
  return hex(std::string(h.begin(), h.end()));
}

class DigestWorkedExample : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(doc_.ok()) << doc_.error(); }

  // Concatenation of tag, length and bytes of each row of the table "enc(rN)".
  std::string encoding_from_table(const std::string& caption) {
    auto t = doc_.table(caption);
    if (!t) {
      ADD_FAILURE() << "no table captioned '" << caption << "'";
      return {};
    }
    EXPECT_GE(t->size(), 3u);
    std::string out;
    for (const auto& row : *t) {
      EXPECT_EQ(row.size(), 5u);
      if (row.size() != 5) continue;
      // The table is consistent with itself: bytes are the value's UTF-8, length its size.
      EXPECT_EQ(row[4], hex(row[3])) << caption << " " << row[1];
      char len[9];
      std::snprintf(len, sizeof len, "%08zx", row[3].size());
      EXPECT_EQ(row[2], len) << caption << " " << row[1];
      out += row[0] + row[2] + row[4];
    }
    return out;
  }

  std::string result(const std::string& quantity) {
    auto t = doc_.table("Digest of the worked example");
    if (!t) {
      ADD_FAILURE() << "no table captioned 'Digest of the worked example'";
      return {};
    }
    for (const auto& row : *t)
      if (row.size() == 2 && row[0] == quantity) return row[1];
    ADD_FAILURE() << "no row '" << quantity << "'";
    return {};
  }

  XepDocument doc_{xep_path()};
};

TEST_F(DigestWorkedExample, PresencesCanonicaliseToTheDocumentedFields) {
  auto ex = doc_.example("Contact presences forming the worked example state");
  ASSERT_TRUE(ex.has_value());
  auto parsed = xml::parse(wrap_in_client_stream(ex->text));
  ASSERT_TRUE(std::holds_alternative<xml::Element>(parsed));
  proto::PresenceState s;
  for (const auto& p : std::get<xml::Element>(parsed).children())
    s.emplace(std::string(p.attr("from").value_or("")), proto::fields_from_presence(p));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.at(kR1), romeo());
  EXPECT_EQ(s.at(kR2), nurse());
}

TEST_F(DigestWorkedExample, CanonicalEncodingsMatchTheTables) {
  EXPECT_EQ(hex(proto::canonical_encoding(kR1, romeo())), encoding_from_table("enc(r1)"));
  EXPECT_EQ(hex(proto::canonical_encoding(kR2, nurse())), encoding_from_table("enc(r2)"));
}

TEST_F(DigestWorkedExample, ResourceHashesMatch) {
  EXPECT_EQ(hex_of(proto::resource_hash(kR1, romeo())), result("h(r1)"));
  EXPECT_EQ(hex_of(proto::resource_hash(kR2, nurse())), result("h(r2)"));
}

TEST_F(DigestWorkedExample, StateDigestMatchesAndWrapsModulo2To256) {
  proto::StateDigest d;
  d.add(proto::resource_hash(kR1, romeo()));
  d.add(proto::resource_hash(kR2, nurse()));
  EXPECT_EQ(d.hex(), result("digest"));
  EXPECT_EQ(std::to_string(d.count()), result("count"));
  // The documented sum carries out of 256 bits; the digest is its low 256 bits.
  std::string sum = result("h(r1) + h(r2)");
  ASSERT_GT(sum.size(), 64u);
  EXPECT_EQ(sum.substr(sum.size() - 64), d.hex());
  EXPECT_EQ(trim(sum.substr(0, sum.size() - 64)), "1");

  auto back = proto::StateDigest::from_hex(result("digest"), 2);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, d);

  // Removing r2 again leaves h(r1): the digest is incremental.
  d.remove(proto::resource_hash(kR2, nurse()));
  EXPECT_EQ(d.hex(), result("h(r1)"));
  EXPECT_EQ(d.count(), 1u);
}

TEST_F(DigestWorkedExample, DigestOfStateIsOrderIndependent) {
  proto::PresenceState s{{kR1, romeo()}, {kR2, nurse()}};
  EXPECT_EQ(proto::digest_of(s).hex(), result("digest"));
  proto::StateDigest other_order;
  other_order.add(proto::resource_hash(kR2, nurse()));
  other_order.add(proto::resource_hash(kR1, romeo()));
  EXPECT_EQ(other_order, proto::digest_of(s));
}

}  // namespace
}  // namespace rpsync::xeptest
