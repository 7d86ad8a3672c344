// SPDX-License-Identifier: MIT
#include "tests/client_strophe/e2e/strophe_world.h"

#include <utility>

#include "protocol/ns.h"

namespace rpsync::test::strophe {

proto::PresenceState without_own(proto::PresenceState s, const std::string& own_bare) {
  std::erase_if(s, [&](const auto& entry) { return proto::bare_of(entry.first) == own_bare; });
  return s;
}

std::string digest_text(const proto::PresenceState& s) {
  const proto::StateDigest d = proto::digest_of(s);
  return std::to_string(d.count()) + ":" + d.hex();
}

std::string events_of(const RpsyncClient& a) {
  std::string out;
  for (const auto& e : a.reports().events) out += e + " ";
  for (const auto& r : a.reports().full_resyncs) out += "\n  resync detail: " + r.detail;
  return out;
}

std::string wire_of(const RpsyncClient& a) {
  std::string out;
  for (const auto& line : a.session().wire()) out += line + "\n";
  return out;
}

scenario::WorldSpec StropheWorld::spec_for(const std::vector<std::string>& contacts) {
  scenario::WorldSpec spec = scenario::user_with_contacts(kAlice, contacts);
  spec.hosts = {"example.test"};
  spec.rpsync_gate = true;
  return spec;
}

void StropheWorld::start(scenario::WorldSpec spec) {
  std::string why;
  bool not_installed = false;
  world = World::start(std::move(spec), &why, &not_installed);
  if (world) return;
  if (not_installed) GTEST_SKIP() << why;
  FAIL() << why;
}

void StropheWorld::SetUp() {
  scenario::WorldSpec spec =
      spec_for({"bob@example.test", "carol@example.test", "dave@example.test"});
  spec.users.push_back(kIvan);  // a user alice does not know yet
  start(std::move(spec));
  if (IsSkipped() || HasFatalFailure()) return;
  bob = online("bob@example.test", "phone", scenario::shows(proto::Show::kAway, "brb"));
  ASSERT_TRUE(bob);
}

std::unique_ptr<RpsyncClient> StropheWorld::alice(const std::string& resource,
                                                  const std::string& state_file,
                                                  std::uint16_t via_port) {
  ClientOptions o;
  o.full_jid = std::string(kAlice) + "/" + resource;
  o.port = via_port ? via_port : port();
  o.state_file = state_file;
  return std::make_unique<RpsyncClient>(std::move(o));
}

std::unique_ptr<RpsyncClient> StropheWorld::enabled_alice(const std::string& resource,
                                                          const std::string& state_file) {
  auto a = alice(resource, state_file);
  EXPECT_EQ(a->open_result(), XMPP_EOK);
  EXPECT_TRUE(a->login_until_online()) << events_of(*a) << "\n" << component_log();
  const Reports& r = a->reports();
  EXPECT_EQ(r.full_resyncs.size(), 1u) << events_of(*a);
  if (!r.full_resyncs.empty()) {
    EXPECT_EQ(r.full_resyncs[0].reason, RPSYNC_STROPHE_NO_STORED_STATE) << events_of(*a);
  }
  EXPECT_EQ(r.enabled, std::vector<int>{1}) << events_of(*a);
  EXPECT_TRUE(a->logout()) << events_of(*a);
  return a;
}

std::unique_ptr<scenario::Party> StropheWorld::online(const std::string& bare,
                                                      const std::string& resource,
                                                      const proto::PresenceFields& fields) {
  return scenario::comes_online(port(), bare, resource, fields);
}

void StropheWorld::settle(scenario::Party& via) {
  scenario::Answer a =
      via.sends_iq(kComponentJid, "get", xml::Element("ping", std::string(ns::kPing)),
                   "settle-" + std::to_string(++fresh_));
  EXPECT_TRUE(a.arrived) << "the component did not answer a ping\n" << component_log();
}

void StropheWorld::expect_view_is_fresh_login(RpsyncClient& a) {
  const std::string own = a.session().bare();
  FreshView fresh = fresh_login_view(own + "/fresh-" + std::to_string(++fresh_), "pw", port());
  ASSERT_TRUE(fresh.ok) << "the fresh plain libstrophe login failed";
  a.session().pump_for(Millis(200));
  const proto::PresenceState view = without_own(a.view(), own);
  EXPECT_EQ(view, fresh.state) << "synced view " << scenario::describe(view) << "\nfresh login "
                               << scenario::describe(fresh.state);
  EXPECT_EQ(proto::digest_of(view), proto::digest_of(fresh.state));
}

}  // namespace rpsync::test::strophe
