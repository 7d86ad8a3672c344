// SPDX-License-Identifier: MIT
// Measures what the roster versioning of mod_rpsync_gate saves with 500 contacts
// (none online, so nothing else is on the wire):
//  * the component's privileged roster get: answer time (request sent -> answer parsed,
//    median of kRounds on loopback) and wire bytes, without ver (mod_privilege) vs with
//    the current ver (empty result) vs with a stale ver (full roster + ver);
//  * a client's stale roster get after 3 changes: bytes of mod_roster's full roster vs
//    the empty result + 3 pushes.
// Prints the figures; asserts only what must hold whatever the exact sizes are.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "protocol/ns.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/prosody/gate_world.h"
#include "tests/plugin/prosody/roster_world.h"

namespace rpsync::test::rosterver {
namespace {

constexpr int kContacts = 500;
constexpr int kRounds = 30;

struct Figure {
  double median_ms = 0;
  std::size_t bytes = 0;
  bool ok = false;
};

Figure measure(RawComponent& comp, const std::optional<std::string>& ver) {
  std::vector<double> ms;
  Figure f;
  for (int i = 0; i < kRounds; ++i) {
    std::size_t before = comp.wire_bytes();
    auto t0 = std::chrono::steady_clock::now();
    auto a = comp.request(roster_get("m" + std::to_string(i), kAlice, ver, ns::kComponent));
    auto t1 = std::chrono::steady_clock::now();
    if (!a || a->attr("type") != "result") return f;
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    f.bytes = comp.wire_bytes() - before;
  }
  std::sort(ms.begin(), ms.end());
  f.median_ms = ms[ms.size() / 2];
  f.ok = true;
  return f;
}

class RosterVersionFigures : public ::testing::TestWithParam<bool> {};

TEST_P(RosterVersionFigures, FiveHundredContacts) {
  const bool nagle_off = GetParam();
  RosterServerOptions o;
  o.contacts = kContacts;
  if (nagle_off) o.global_config = "network_settings = { nagle = false }";
  START_SERVER_OR_SKIP(server, o);
  std::string why;
  auto comp = RawComponent::connect(server->component_port(), server->options().component_jid,
                                    server->options().component_secret, true, &why);
  ASSERT_TRUE(comp) << why;
  auto first = comp->request(roster_get("v", kAlice, "", ns::kComponent));
  ASSERT_TRUE(first && roster_query(*first) && roster_query(*first)->attr("ver"));
  const std::string ver(*roster_query(*first)->attr("ver"));
  ASSERT_EQ(parse_roster(*roster_query(*first)).size(), static_cast<std::size_t>(kContacts));

  Figure plain = measure(*comp, std::nullopt);
  Figure same = measure(*comp, ver);
  Figure stale = measure(*comp, "0");
  ASSERT_TRUE(plain.ok && same.ok && stale.ok);
  std::printf("privileged roster get, %d items, median of %d on loopback, Prosody Nagle %s:\n",
              kContacts, kRounds, nagle_off ? "off" : "on (default)");
  std::printf("  no ver (mod_privilege)  %8.2f ms %7zu bytes\n", plain.median_ms, plain.bytes);
  std::printf("  current ver (unchanged) %8.2f ms %7zu bytes\n", same.median_ms, same.bytes);
  std::printf("  stale ver (full + ver)  %8.2f ms %7zu bytes\n", stale.median_ms, stale.bytes);
  EXPECT_LT(same.bytes * 20, plain.bytes) << "an unchanged answer must be tiny";
  EXPECT_GT(stale.bytes, plain.bytes) << "the full answer adds ver";

  // A client away while 3 items changed.
  auto phone = TestClient::login(server->c2s_port(), "alice", kHost, kPassword, "phone", &why);
  ASSERT_TRUE(phone) << why;
  ASSERT_TRUE(phone->send(roster_get("p1", std::nullopt, "", ns::kClient)));
  auto r = phone->wait_for([](const xml::Element& e) { return e.attr("id") == "p1"; }, kTimeout);
  ASSERT_TRUE(r && roster_query(*r) && roster_query(*r)->attr("ver"));
  const std::string phone_ver(*roster_query(*r)->attr("ver"));
  phone->close();
  auto desk = TestClient::login(server->c2s_port(), "alice", kHost, kPassword, "desk", &why);
  ASSERT_TRUE(desk) << why;
  for (int i = 0; i < 3; ++i) {
    xml::Element iq("iq", std::string(ns::kClient));
    iq.set_attr("type", "set");
    iq.set_attr("id", "s" + std::to_string(i));
    xml::Element& item = iq.add(xml::Element("query", std::string(ns::kRoster)))
                             .add(xml::Element("item", std::string(ns::kRoster)));
    item.set_attr("jid", "c" + std::to_string(i) + "@example.test");
    item.set_attr("name", "renamed " + std::to_string(i));
    ASSERT_TRUE(desk->send(iq));
    std::string id = "s" + std::to_string(i);
    ASSERT_TRUE(
        desk->wait_for([&](const xml::Element& e) { return e.attr("id") == id; }, kTimeout));
  }
  desk->close();
  auto answer_bytes = [&](const std::string& resource) -> std::pair<std::size_t, std::size_t> {
    auto c = TestClient::login(server->c2s_port(), "alice", kHost, kPassword, resource, &why);
    if (!c || !c->send(roster_get("g", std::nullopt, phone_ver, ns::kClient))) return {0, 0};
    gate::Received got = gate::collect_until_ping(*c);
    return {got.complete ? got.bytes : 0, got.stanzas.size()};
  };
  auto [incremental_bytes, incremental_stanzas] = answer_bytes("phone");
  std::printf(
      "client roster get with a stale ver, 3 of %d items changed (re-serialised):\n"
      "  incremental: %zu stanzas, %zu bytes\n",
      kContacts, incremental_stanzas, incremental_bytes);
  EXPECT_EQ(incremental_stanzas, 4u) << "empty result + 3 pushes";
  EXPECT_GT(incremental_bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Nagle, RosterVersionFigures, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Off" : "On"; });

TEST(RosterVersionFiguresControl, FiveHundredContactsClientWithoutModule) {
  RosterServerOptions o;
  o.contacts = kContacts;
  o.load_module = false;
  START_SERVER_OR_SKIP(server, o);
  std::string why;
  auto c = TestClient::login(server->c2s_port(), "alice", kHost, kPassword, "phone", &why);
  ASSERT_TRUE(c) << why;
  ASSERT_TRUE(c->send(roster_get("g", std::nullopt, "0", ns::kClient)));
  gate::Received got = gate::collect_until_ping(*c);
  ASSERT_TRUE(got.complete);
  std::printf("client roster get with a stale ver, mod_roster alone: %zu stanzas, %zu bytes\n",
              got.stanzas.size(), got.bytes);
  EXPECT_EQ(got.stanzas.size(), 1u);
}

}  // namespace
}  // namespace rpsync::test::rosterver
