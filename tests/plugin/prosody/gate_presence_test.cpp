// SPDX-License-Identifier: MIT
// mod_rpsync_gate's presence rules as seen by a privileged component (a raw XEP-0114
// stream) on a real Prosody 0.12 with mod_privilege:
//  * a contact's directed presence to the component never reaches it (withheld), while
//    the contact's broadcasts, forwarded under the privilege, still do; without the
//    module the directed one arrives with the same from/to as a broadcast (the control);
//  * the <synced/> marker is stripped from a probe (and so from every presence type).
#include <gtest/gtest.h>

#include <string>

#include "protocol/ns.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/prosody/roster_world.h"

namespace rpsync::test::rosterver {
namespace {

xml::Element presence_to(const std::string& to, const std::string& status,
                         const char* type = nullptr) {
  xml::Element p("presence", std::string(ns::kClient));
  if (!to.empty()) p.set_attr("to", to);
  if (type) p.set_attr("type", type);
  if (!status.empty()) p.add(xml::Element("status", std::string(ns::kClient))).set_text(status);
  return p;
}

std::string status_of(const xml::Element& p) {
  const xml::Element* s = p.child("status", ns::kComponent);
  if (!s) s = p.child("status", ns::kClient);
  return s ? std::string(s->text()) : "";
}

// c0 sends a broadcast "before", a directed "secret" to the component, a directed
// unavailable to it and a broadcast "after"; returns the statuses (and "unavailable")
// the component received from c0, in order, once "after" arrived (or timed out).
std::vector<std::string> component_sees(bool load_module, std::string* log) {
  RosterServerOptions options;
  options.load_module = load_module;
  std::string why;
  bool missing = false;
  auto server = start_roster_server(options, &why, &missing);
  if (!server) {
    *log = why;
    return {"no server"};
  }
  auto comp = RawComponent::connect(server->component_port(), server->options().component_jid,
                                    server->options().component_secret, true, &why);
  auto c0 = TestClient::login(server->c2s_port(), "c0", kHost, kPassword, "r", &why);
  if (!comp || !c0) {
    *log = why;
    return {"no connection"};
  }
  const std::string jid = server->options().component_jid;
  c0->send(presence_to("", "before"));
  c0->send(presence_to(jid, "secret"));
  c0->send(presence_to(jid, "", "unavailable"));
  c0->send(presence_to("", "after"));
  std::vector<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    auto s = comp->next(kTimeout);
    if (!s) break;
    if (s->name() != "presence" || s->attr("from").value_or("").rfind("c0@", 0) != 0) continue;
    seen.push_back(s->attr("type") == "unavailable" ? "unavailable" : status_of(*s));
    if (seen.back() == "after") break;
  }
  *log = server->log();
  return seen;
}

TEST(RpsyncGatePresence, DirectedPresenceToTheComponentIsWithheld) {
  if (!ProsodyServer::find_executable()) GTEST_SKIP() << "Prosody is not installed";
  std::string log;
  auto seen = component_sees(true, &log);
  EXPECT_EQ(seen, (std::vector<std::string>{"before", "after"})) << log;
}

TEST(RpsyncGatePresence, WithoutTheModuleDirectedPresenceLooksLikeABroadcast) {
  if (!ProsodyServer::find_executable()) GTEST_SKIP() << "Prosody is not installed";
  std::string log;
  auto seen = component_sees(false, &log);
  EXPECT_EQ(seen, (std::vector<std::string>{"before", "secret", "unavailable", "after"})) << log;
}

TEST(RpsyncGatePresence, MarkerIsStrippedFromAProbe) {
  START_SERVER_OR_SKIP(server, RosterServerOptions{});
  std::string why;
  auto comp = RawComponent::connect(server->component_port(), server->options().component_jid,
                                    server->options().component_secret, true, &why);
  ASSERT_TRUE(comp) << why;
  auto alice = TestClient::login(server->c2s_port(), "alice", kHost, kPassword, "r", &why);
  ASSERT_TRUE(alice) << why;
  xml::Element probe = presence_to(server->options().component_jid, "", "probe");
  probe.add(xml::Element("synced", std::string(ns::kRpsync)));
  ASSERT_TRUE(alice->send(probe));
  std::optional<xml::Element> got;
  for (int i = 0; i < 20 && !got; ++i) {
    auto s = comp->next(kTimeout);
    if (!s) break;
    if (s->name() == "presence" && s->attr("type") == "probe") got = std::move(s);
  }
  ASSERT_TRUE(got) << "the probe did not reach the component\n" << server->log();
  EXPECT_EQ(got->child("synced", ns::kRpsync), nullptr) << xml::to_string(*got);
}

}  // namespace
}  // namespace rpsync::test::rosterver
