// SPDX-License-Identifier: MIT
#include "client_ext/extensions.h"

#include <gloox/tag.h>
#include <gtest/gtest.h>

#include <memory>

#include "gloox_parse.h"
#include "protocol/state.h"

namespace rpsync::client {
namespace {

using testing::gloox_parse;

proto::PresenceFields fields(proto::Show show, std::string status, std::int8_t prio) {
  proto::PresenceFields f;
  f.show = show;
  f.status = std::move(status);
  f.priority = prio;
  return f;
}

proto::StateDigest some_digest() {
  proto::PresenceState s;
  s["a@example.test/x"] = fields(proto::Show::kAway, "lunch", 5);
  s["b@example.test/y"] = fields(proto::Show::kNone, "", 0);
  return proto::digest_of(s);
}

// Serialises with tag(), reparses the XML with gloox's parser, and builds the extension
// from it again: what happens between two gloox peers.
template <class T>
T round_trip(const T& value) {
  PayloadExtension<T> ext(value);
  std::unique_ptr<gloox::Tag> tag(ext.tag());
  EXPECT_NE(tag, nullptr);
  if (!tag) return {};
  auto reparsed = gloox_parse(tag->xml());
  EXPECT_NE(reparsed, nullptr) << tag->xml();
  if (!reparsed) return {};
  std::unique_ptr<gloox::StanzaExtension> back(ext.newInstance(reparsed.get()));
  auto* typed = dynamic_cast<PayloadExtension<T>*>(back.get());
  EXPECT_NE(typed, nullptr);
  if (typed == nullptr || !typed->valid()) {
    ADD_FAILURE() << "did not parse: " << tag->xml()
                  << (typed && typed->error() ? " " + typed->error()->text : "");
    return {};
  }
  EXPECT_EQ(typed->extensionType(), PayloadExtension<T>::type_id());
  const T* v = typed->value();
  return v != nullptr ? *v : T{};
}

TEST(Extensions, SessionPayloadsRoundTrip) {
  const proto::Enable enable{"stream-1"};
  EXPECT_EQ(round_trip(enable), enable);
  const proto::Enabled enabled{604800, some_digest()};
  EXPECT_EQ(round_trip(enabled), enabled);
  const proto::Checkpoint cp{"stream-1", "iq-7"};
  EXPECT_EQ(round_trip(cp), cp);
  const proto::Checkpointed cpd{some_digest()};
  EXPECT_EQ(round_trip(cpd), cpd);
  const proto::Disable disable{"stream-1"};
  EXPECT_EQ(round_trip(disable), disable);
}

TEST(Extensions, SyncRoundTrips) {
  const proto::Sync sync{"new-stream", {"old-stream", "laptop", "iq-42"}};
  EXPECT_EQ(round_trip(sync), sync);
}

TEST(Extensions, DeltaWithEveryKindOfChildRoundTrips) {
  proto::Delta d;
  d.lifetime = 3600;
  d.contacts = {{"gone@example.test", proto::ContactChange::Kind::kRemoved},
                {"new@example.test", proto::ContactChange::Kind::kAdded}};
  proto::PresenceFields rich = fields(proto::Show::kDnd, "busy <really> & more", -3);
  rich.caps = proto::Caps{"sha-1", "http://gloox.camaya.net", "abc+/="};
  rich.photo = "0123456789abcdef0123456789abcdef01234567";
  rich.idle_since = "2026-11-21T10:00:00Z";
  d.added = {{"new@example.test/phone", rich}};
  d.changed = {proto::make_change("a@example.test/x", fields(proto::Show::kAway, "lunch", 5),
                                  fields(proto::Show::kChat, "", 5))};
  d.unavailable = {"gone@example.test/desk"};
  d.state = some_digest();
  EXPECT_EQ(round_trip(d), d);

  proto::Delta empty;
  empty.lifetime = 10;
  empty.state = some_digest();
  EXPECT_EQ(round_trip(empty), empty);
}

TEST(Extensions, FilterStringSelectsElementInRpsyncNamespace) {
  EXPECT_EQ(EnableExtension().filterString(), "/iq/enable[@xmlns='urn:xmpp:rpsync:0']");
  EXPECT_EQ(DeltaExtension().filterString(), "/iq/delta[@xmlns='urn:xmpp:rpsync:0']");
}

TEST(Extensions, TypeIdsAreDistinctAndAboveExtUser) {
  const int ids[] = {EnableExtension::type_id(),     EnabledExtension::type_id(),
                     CheckpointExtension::type_id(), CheckpointedExtension::type_id(),
                     DisableExtension::type_id(),    SyncExtension::type_id(),
                     DeltaExtension::type_id()};
  for (std::size_t i = 0; i < std::size(ids); ++i) {
    EXPECT_GT(ids[i], static_cast<int>(gloox::ExtUser));
    for (std::size_t j = i + 1; j < std::size(ids); ++j) EXPECT_NE(ids[i], ids[j]);
  }
}

TEST(Extensions, MalformedPayloadIsInvalidWithTheParserError) {
  auto tag = gloox_parse("<enabled xmlns='urn:xmpp:rpsync:0' lifetime='x' count='1' digest='zz'/>");
  ASSERT_NE(tag, nullptr);
  EnabledExtension ext(tag.get());
  EXPECT_FALSE(ext.valid());
  EXPECT_EQ(ext.value(), nullptr);
  const proto::StanzaError* err = ext.error();
  EXPECT_TRUE(err != nullptr && err->condition == proto::Condition::kBadRequest);
  EXPECT_EQ(ext.tag(), nullptr);  // never re-serialised
}

TEST(Extensions, CloneKeepsValue) {
  SyncExtension ext(proto::Sync{"s", {"o", "r", "l"}});
  std::unique_ptr<gloox::StanzaExtension> c(ext.clone());
  auto* typed = dynamic_cast<SyncExtension*>(c.get());
  ASSERT_NE(typed, nullptr);
  ASSERT_TRUE(typed->valid());
  EXPECT_EQ(typed->value()->key.last, "l");
}

}  // namespace
}  // namespace rpsync::client
