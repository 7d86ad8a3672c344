// SPDX-License-Identifier: MIT
// The two ways a delta on ejabberd could be wrong while its digest agrees (the client could
// not notice), with and without mod_rpsync_gate's session reports
// (urn:xmpp:rpsync:0#sessions, plugin/ejabberd). With them the delta equals a fresh login;
// without them the sync fails with continuity-lost, never a wrong delta.
//
// (a) Same resource re-login: hank/work drops abruptly while none of his contacts is
//     online (ejabberd itself forwards nothing), then logs in again as hank/work and sends
//     no presence. A ping to hank/work is answered by the new session.
// (b) Component restart: hank/one and hank/two are online; the component restarts
//     (ejabberd itself re-sends nothing); hank/one speaks again, hank/two stays silent.
//     alice's roster loses hank while she is away, her next sync says so; hank is added
//     again; alice's sync adds hank with his resources.
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

const std::string kAlice = "alice@example.test";
const std::string kHank = "hank@example.test";

class EjabberdSessions : public Scenario<EjabberdServer> {
 protected:
  void same_resource_relogin(bool module);
  void silent_resource_after_restart(bool module);

  // The sync answer: with the module a delta that turns `model` into a fresh login, without
  // it continuity-lost.
  // `items`: the delta's expected item count (what makes the case mean something).
  void expect_right_or_failed(bool module, const Answer& answer, proto::PresenceState model,
                              const std::string& name, std::size_t items) {
    expect_component_alive();
    if (!module) {
      EXPECT_TRUE(is_error(answer, AppCondition::kContinuityLost)) << world->component().log();
      report(name + " without module", "sync -> " + answer.describe());
      return;
    }
    std::string why;
    auto delta = delta_of(answer, &why);
    ASSERT_TRUE(delta) << why << "\n" << world->component().log();
    EXPECT_EQ(delta->items(), items) << describe(*delta);
    ASSERT_TRUE(proto::apply(model, *delta)) << describe(*delta);
    EXPECT_EQ(proto::digest_of(model), delta->state);
    expect_model_is_fresh_login(model, kAlice);
    report(name + " with module",
           std::to_string(delta->items()) + " delta item(s): " + describe(*delta));
  }

  void remove_from_roster(const std::string& owner, const std::string& contact) {
    auto at_o = owner.find('@');
    auto at_c = contact.find('@');
    std::string error;
    auto r = world->server().api("delete_rosteritem",
                                 "{\"localuser\":\"" + owner.substr(0, at_o) +
                                     "\",\"localhost\":\"" + owner.substr(at_o + 1) +
                                     "\",\"user\":\"" + contact.substr(0, at_c) + "\",\"host\":\"" +
                                     contact.substr(at_c + 1) + "\"}",
                                 &error);
    ASSERT_TRUE(r) << error;
  }
};

void EjabberdSessions::same_resource_relogin(bool module) {
  WorldSpec spec = user_with_contacts(kAlice, {"carol@example.test", kHank});
  spec.ejabberd_module = module;
  if (module && EjabberdServer::built_gate_dir().empty())
    GTEST_FAIL() << "build/ejabberd/mod_rpsync_gate.beam was not built (erlc missing?)";
  RPSYNC_SCENARIO_START(spec);
  auto hank = comes_online(kHank, "work", shows(Show::kDnd, "busy"));
  ASSERT_TRUE(hank);

  auto a = logs_in(kAlice, "phone");
  ASSERT_TRUE(a);
  Flood first = flood_of(*a);
  ASSERT_TRUE(first.complete);
  ASSERT_EQ(first.state.size(), 1u) << describe(first.state);
  ASSERT_TRUE(a->sends_enable(component(), "e1").ok());
  ASSERT_TRUE(a->sends_checkpoint(component(), "c1", "e1").ok());
  const proto::SyncKey key = a->key("c1");
  const proto::PresenceState model = first.state;
  a->closes();
  ASSERT_TRUE(hank->settles());

  hank->aborts();  // alice is away: no session of hank's contacts sees this
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto again = logs_in(kHank, "work");  // the same full JID, no presence
  ASSERT_TRUE(again && again->settles());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  auto b = logs_in(kAlice, "phone");
  ASSERT_TRUE(b);
  const Answer answer = b->sends_sync(component(), "s1", key);
  ASSERT_TRUE(answer.arrived);
  // hank/work unavailable
  expect_right_or_failed(module, answer, model, "(a) same resource re-login", 1);
}

void EjabberdSessions::silent_resource_after_restart(bool module) {
  WorldSpec spec = user_with_contacts(kAlice, {kHank});
  spec.ejabberd_module = module;
  if (module && EjabberdServer::built_gate_dir().empty())
    GTEST_FAIL() << "build/ejabberd/mod_rpsync_gate.beam was not built (erlc missing?)";
  RPSYNC_SCENARIO_START(spec);
  auto one = comes_online(kHank, "one", shows(Show::kAway, "one"));
  auto two = comes_online(kHank, "two", shows(Show::kChat, "two"));
  ASSERT_TRUE(one && two);

  auto& c = world->component();
  EXPECT_EQ(c.terminate(), 0) << c.log();
  std::string why;
  ASSERT_TRUE(world->start_component_again(&why)) << why;
  ASSERT_TRUE(one->sends_presence(shows(Show::kAway, "one again")) && one->settles());

  auto a = logs_in(kAlice, "phone");
  ASSERT_TRUE(a);
  Flood flood = flood_of(*a);
  ASSERT_TRUE(flood.complete);
  ASSERT_EQ(flood.state.size(), 2u) << describe(flood.state);
  ASSERT_TRUE(a->sends_enable(component(), "e1").ok());
  proto::SyncKey key = a->key("e1");
  a->closes();
  ASSERT_TRUE(one->settles());

  // While alice is away her roster loses hank (edited elsewhere); her next sync says so.
  remove_from_roster(kAlice, kHank);
  ASSERT_TRUE(one->settles());
  auto between = logs_in(kAlice, "phone");
  ASSERT_TRUE(between);
  const Answer removed = between->sends_sync(component(), "s0", key);
  proto::PresenceState model;  // hank's resources went with him
  if (auto delta = delta_of(removed, &why)) {
    EXPECT_EQ(delta->contacts.size(), 1u) << describe(*delta);
    ASSERT_TRUE(proto::apply(flood.state, *delta)) << describe(*delta);
    EXPECT_EQ(flood.state, model) << describe(*delta);
    key = between->key("s0");
  } else {
    // too-large (removing two resources costs more than a login showing nobody), or
    // without the module a sync it cannot prove: a normal login and a new key.
    ASSERT_TRUE(flood_of(*between).complete);
    ASSERT_TRUE(between->sends_enable(component(), "e2").ok());
    key = between->key("e2");
  }
  between->closes();
  ASSERT_TRUE(one->settles());
  // Both sides again: the removal cancelled hank's subscription from alice too.
  ASSERT_TRUE(world->server().add_roster_item(kAlice, kHank, Subscription::kBoth));
  ASSERT_TRUE(world->server().add_roster_item(kHank, kAlice, Subscription::kBoth));

  auto b = logs_in(kAlice, "phone");
  ASSERT_TRUE(b);
  const Answer answer = b->sends_sync(component(), "s1", key);
  ASSERT_TRUE(answer.arrived);
  // contact hank added, hank/one and hank/two new
  expect_right_or_failed(module, answer, model, "(b) silent resource after restart", 3);
}

TEST_F(EjabberdSessions, SameResourceReloginWithModuleDeltaIsAFreshLogin) {
  same_resource_relogin(true);
}
TEST_F(EjabberdSessions, SameResourceReloginWithoutModuleFails) {
  same_resource_relogin(false);
}
TEST_F(EjabberdSessions, SilentResourceAfterRestartWithModuleDeltaIsAFreshLogin) {
  silent_resource_after_restart(true);
}
TEST_F(EjabberdSessions, SilentResourceAfterRestartWithoutModuleFails) {
  silent_resource_after_restart(false);
}

}  // namespace
}  // namespace rpsync::test::scenario
