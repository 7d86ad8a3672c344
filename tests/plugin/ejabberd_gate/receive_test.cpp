// SPDX-License-Identifier: MIT
// Presence a local user RECEIVES, seen from a raw component socket on a real ejabberd 23.01.
// mod_privilege forwards it like a broadcast, also when a contact directs it to that user
// alone; with mod_rpsync_gate such receiver-side copies of a LOCAL sender's presence do not
// reach the component (his broadcasts come from his own session):
//  * a contact's presence directed to alice (available with a status, unavailable) does not
//    reach the component, his broadcast does, once (from his own session);
//  * alice (online) removing the contact from her roster makes his sessions send her
//    unavailable; the component does not see it;
//  * controls without the module see both.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "protocol/ns.h"
#include "tests/plugin/ejabberd_gate/ej_world.h"

namespace rpsync::test::ejgate {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kQuiet{1000};

struct RxWorld {
  std::unique_ptr<EjWorld> world;
  std::unique_ptr<Peer> alice;
  std::unique_ptr<RawComponent> comp;
};

// One online contact (c0, mutual subscription); alice online with her flood settled; then
// the component connects and is read up to <sessions-sent/> (gate) or the privilege message.
std::optional<RxWorld> start_rx(bool gate, std::string* why, bool* missing) {
  WorldOptions o;
  o.online_contacts = 1;
  o.offline_contacts = 0;
  o.load_gate = gate;
  RxWorld rx;
  rx.world = EjWorld::start(o, why, missing);
  if (!rx.world) return std::nullopt;
  rx.alice = rx.world->login("alice", "phone", why);
  if (!rx.alice || !rx.alice->send(presence(false)) || !rx.world->barrier(*rx.alice).complete) {
    *why = "alice: " + *why;
    return std::nullopt;
  }
  rx.comp = RawComponent::connect(rx.world->server().component_port(), kComponent,
                                  rx.world->server().options().component_secret, why);
  for (int i = 0; rx.comp && i < 1000; ++i) {
    auto s = rx.comp->next(kTimeout);
    if (!s) break;
    bool last = gate ? (s->name() == "message" && s->child("sessions-sent", ns::kRpsync))
                     : s->name() == "message";
    if (last) return rx;
  }
  *why = "component: no " + std::string(gate ? "sessions-sent" : "privilege message");
  return std::nullopt;
}

#define START_RX_OR_SKIP(var, gate)                        \
  std::string var##_why;                                   \
  bool var##_missing = false;                              \
  auto var = start_rx((gate), &var##_why, &var##_missing); \
  if (!var) {                                              \
    if (var##_missing) GTEST_SKIP() << var##_why;          \
    FAIL() << var##_why;                                   \
  }

// Presence from `from_prefix` that reaches the component within `quiet` of the last one.
std::vector<xml::Element> presences_from(RawComponent& c, std::string_view from_prefix) {
  std::vector<xml::Element> out;
  for (int i = 0; i < 1000; ++i) {
    auto s = c.next(kQuiet);
    if (!s) break;
    if (is_presence_from(*s, from_prefix)) out.push_back(std::move(*s));
  }
  return out;
}

std::string summary(const std::vector<xml::Element>& v) {
  std::string out;
  for (const auto& e : v) out += xml::to_string(e) + "\n";
  return out;
}

std::size_t count_status(const std::vector<xml::Element>& v, std::string_view status) {
  std::size_t n = 0;
  for (const auto& e : v)
    if (e.child_text("status").value_or("") == status) ++n;
  return n;
}

bool has_status(const std::vector<xml::Element>& v, std::string_view status) {
  return count_status(v, status) > 0;
}

bool has_unavailable(const std::vector<xml::Element>& v) {
  for (const auto& e : v)
    if (e.attr("type") == "unavailable") return true;
  return false;
}

// c0 directs an available (status "directed") and an unavailable to alice, then broadcasts
// status "broadcast"; returns what the component got from c0.
std::vector<xml::Element> directed_then_broadcast(RxWorld& rx) {
  Peer& c0 = *rx.world->contacts().at(0);
  xml::Element directed = presence(false, "dnd", "directed");
  directed.set_attr("to", rx.alice->jid());
  xml::Element gone = unavailable();
  gone.set_attr("to", kAlice);
  EXPECT_TRUE(c0.send(directed) && c0.send(gone) && c0.send(presence(false, "", "broadcast")));
  EXPECT_TRUE(rx.alice->take([](const xml::Element& s) {
    return s.child_text("status").value_or("") == "broadcast";
  })) << "alice did not get c0's broadcast";
  return presences_from(*rx.comp, c0.jid());
}

TEST(EjabberdGateReceived, DirectedPresenceOfALocalContactDoesNotReachTheComponent) {
  START_RX_OR_SKIP(rx, true);
  auto got = directed_then_broadcast(*rx);
  // Once, from c0's own session: alice's receiver-side copy is withheld too.
  EXPECT_EQ(count_status(got, "broadcast"), 1u) << summary(got);
  EXPECT_FALSE(has_status(got, "directed")) << summary(got);
  EXPECT_FALSE(has_unavailable(got)) << summary(got);
}

TEST(EjabberdGateReceived, WithoutTheModuleDirectedPresenceReachesTheComponent) {
  START_RX_OR_SKIP(rx, false);
  auto got = directed_then_broadcast(*rx);
  // From c0's session and from alice's.
  EXPECT_EQ(count_status(got, "broadcast"), 2u) << summary(got);
  EXPECT_TRUE(has_status(got, "directed")) << summary(got);
  EXPECT_TRUE(has_unavailable(got)) << summary(got);
}

// alice removes c0 from her roster while online; returns what the component got from c0.
std::vector<xml::Element> remove_contact(RxWorld& rx) {
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("id", "rm1");
  const std::string& c0 = rx.world->contacts().at(0)->jid();
  xml::Element item("item", "jabber:iq:roster");
  item.set_attr("jid", c0.substr(0, c0.find('/')));
  item.set_attr("subscription", "remove");
  xml::Element query("query", "jabber:iq:roster");
  query.add(std::move(item));
  iq.add(std::move(query));
  EXPECT_TRUE(rx.alice->send(iq));
  EXPECT_TRUE(rx.alice->take([](const xml::Element& s) {
    return s.name() == "iq" && s.attr("id") == "rm1" && s.attr("type") == "result";
  })) << "roster removal not acknowledged";
  // alice gets c0's unavailable (the subscription is cancelled) before the component could.
  EXPECT_TRUE(rx.alice->take([&](const xml::Element& s) {
    return is_presence_from(s, rx.world->contacts().at(0)->jid()) &&
           s.attr("type") == "unavailable";
  })) << "alice did not get c0's unavailable";
  return presences_from(*rx.comp, rx.world->contacts().at(0)->jid());
}

TEST(EjabberdGateReceived, RosterRemovalByAnOnlineUserDoesNotTakeTheContactOffline) {
  START_RX_OR_SKIP(rx, true);
  auto got = remove_contact(*rx);
  EXPECT_FALSE(has_unavailable(got)) << summary(got);
}

TEST(EjabberdGateReceived, WithoutTheModuleRosterRemovalTakesTheContactOffline) {
  START_RX_OR_SKIP(rx, false);
  auto got = remove_contact(*rx);
  EXPECT_TRUE(has_unavailable(got)) << summary(got);
}

}  // namespace
}  // namespace rpsync::test::ejgate
