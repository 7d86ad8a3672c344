// SPDX-License-Identifier: MIT
// Scenario 5: alice's roster is edited while her phone is away, from her own desktop
// client with roster sets and subscription handshakes (RFC 6121), not by the test writing
// server files; on reconnect the phone receives the contact added with its resources and
// the contact removed with its resources unavailable.
//
//   alice/phone sees carol, dave, erin, gina; enables; logs out
//   alice/desktop adds ivan to her roster and subscribes; ivan approves and subscribes back;
//   alice/desktop approves (both); ivan re-announces his presence
//   alice/desktop removes dave from her roster; logs out
//   alice/phone reconnects, sends <sync/>, receives:
//     contact ivan added, new ivan/home {show, status}, contact dave removed,
//     unavailable dave/pc
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

bool is_subscription(const xml::Element& e, std::string_view type, std::string_view from_bare) {
  return e.name() == "presence" && e.attr("type") == type &&
         proto::bare_of(e.attr("from").value_or("")) == from_bare;
}

template <class Server>
class RosterEdited : public Scenario<Server> {};
TYPED_TEST_SUITE(RosterEdited, Servers, ServerNames);

TYPED_TEST(RosterEdited, AddedAndRemovedContactsWithTheirResources) {
  const std::string alice = "alice@example.test";
  const std::string ivan_jid = "ivan@example.test";
  WorldSpec spec = user_with_contacts(
      alice, {"carol@example.test", "dave@example.test", "erin@example.test", "gina@example.test"});
  spec.users.push_back(ivan_jid);  // a user alice does not know yet
  RPSYNC_SCENARIO_START(spec);

  auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway));
  auto dave = this->comes_online("dave@example.test", "pc", shows(Show::kChat, "hi"));
  auto erin = this->comes_online("erin@example.test", "laptop");
  auto gina = this->comes_online("gina@example.test", "home", shows(Show::kNone, "here"));
  const auto ivan_home = shows(Show::kXa, "gone fishing");
  auto ivan = this->comes_online(ivan_jid, "home", ivan_home);
  ASSERT_TRUE(carol && dave && erin && gina && ivan);

  auto phone = this->logs_in(alice, "phone");
  ASSERT_TRUE(phone);
  Flood first = this->flood_of(*phone);
  ASSERT_TRUE(first.complete);
  proto::PresenceState model = first.state;
  ASSERT_EQ(model.size(), 4u) << describe(model);
  ASSERT_TRUE(phone->sends_enable(this->component(), "e1").ok());
  const proto::SyncKey key = phone->key("e1");
  phone->closes();

  // alice's desktop edits the roster.
  auto desktop = this->logs_in(alice, "desktop");
  ASSERT_TRUE(desktop);
  ASSERT_TRUE(this->flood_of(*desktop).complete);
  ASSERT_TRUE(desktop->sets_roster_item(ivan_jid));
  ASSERT_TRUE(desktop->sends_subscription(ivan_jid, "subscribe"));
  ASSERT_TRUE(ivan->receives(
      [&](const xml::Element& e) { return is_subscription(e, "subscribe", alice); }));
  ASSERT_TRUE(ivan->sends_subscription(alice, "subscribed"));
  ASSERT_TRUE(ivan->sends_subscription(alice, "subscribe"));
  ASSERT_TRUE(desktop->receives(
      [&](const xml::Element& e) { return is_subscription(e, "subscribe", ivan_jid); }));
  ASSERT_TRUE(desktop->sends_subscription(ivan_jid, "subscribed"));
  ASSERT_TRUE(desktop->settles() && ivan->settles());
  ASSERT_TRUE(ivan->sends_presence(ivan_home));  // a client re-announces after a handshake
  ASSERT_TRUE(ivan->settles());
  ASSERT_TRUE(desktop->sets_roster_item("dave@example.test", /*remove=*/true));
  ASSERT_TRUE(desktop->settles());
  desktop->closes();

  auto back = this->logs_in(alice, "phone");
  ASSERT_TRUE(back);
  Answer answer = back->sends_sync(this->component(), "s1", key);
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();
  const proto::Delta got = sorted(*delta);

  const std::vector<proto::ContactChange> contacts{
      {"dave@example.test", proto::ContactChange::Kind::kRemoved},
      {ivan_jid, proto::ContactChange::Kind::kAdded}};
  EXPECT_EQ(got.contacts, contacts) << describe(got);
  const std::vector<proto::NewResource> added{{ivan_jid + "/home", ivan_home}};
  EXPECT_EQ(got.added, added) << describe(got);
  EXPECT_TRUE(got.changed.empty()) << describe(got);
  EXPECT_EQ(got.unavailable, std::vector<std::string>{"dave@example.test/pc"}) << describe(got);

  ASSERT_TRUE(proto::apply(model, *delta)) << describe(*delta);
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);
  this->report("5 roster edited", std::to_string(delta->items()) + " delta items / " +
                                      std::to_string(answer.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
