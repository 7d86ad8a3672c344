// SPDX-License-Identifier: MIT
// Measures what the client receives on reconnect with 50 online contacts (status + caps
// presence), on Prosody with mod_rpsync_gate and the stub component: a full login vs. a
// synced reconnect with the <synced/> marker. Prints the figures; asserts only that the
// synced reconnect receives no contact presence and fewer bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gloox_session.h"
#include "protocol/ns.h"
#include "stub_component.h"
#include "tests/client_ext/test_env.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::client {
namespace {

using std::chrono::milliseconds;
using testing::load_gate_into;

xml::Element caps_presence(int i) {
  xml::Element p("presence", std::string(ns::kClient));
  p.add(xml::Element("show", std::string(ns::kClient))).set_text("away");
  p.add(xml::Element("status", std::string(ns::kClient))).set_text("contact " + std::to_string(i));
  p.add(xml::Element("priority", std::string(ns::kClient))).set_text("5");
  xml::Element caps("c", std::string(ns::kCaps));
  caps.set_attr("hash", "sha-1");
  caps.set_attr("node", "https://example.org/client");
  caps.set_attr("ver", "QgayPKawpkPSDYmwT/WM94uAlu0=");
  p.add(std::move(caps));
  return p;
}

TEST(Figures, ReconnectWith50OnlineContacts) {
  constexpr int kContacts = 50;
  std::string why;
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, &why);
  if (!server) GTEST_SKIP() << why;
  server->add_user("alice", "example.test", "pw");
  for (int i = 0; i < kContacts; ++i) {
    const std::string c = "c" + std::to_string(i);
    server->add_user(c, "example.test", "pw");
    server->add_roster_item("alice@example.test", c + "@example.test", test::Subscription::kBoth);
    server->add_roster_item(c + "@example.test", "alice@example.test", test::Subscription::kBoth);
  }
  ASSERT_TRUE(load_gate_into(*server));
  ASSERT_TRUE(server->launch()) << server->log();
  testing::StubComponent stub("rpsync.example.test", "s3cret", server->component_port());
  ASSERT_TRUE(stub.connect(false));
  for (int i = 0; i < 500 && !stub.ready(); ++i) stub.recv(10'000);
  ASSERT_TRUE(stub.ready());
  std::vector<std::unique_ptr<test::TestClient>> contacts;
  for (int i = 0; i < kContacts; ++i) {
    contacts.push_back(test::TestClient::login(server->c2s_port(), "c" + std::to_string(i),
                                               "example.test", "pw", "r", &why));
    ASSERT_TRUE(contacts.back()) << why;
    ASSERT_TRUE(contacts.back()->send(caps_presence(i)));
  }

  MemorySessionStore store;
  testing::GlooxSession a("alice@example.test/laptop", "pw", server->c2s_port(), &store);
  a.side = [&] { stub.pump(); };
  // Session 1: full login, then enable.
  std::size_t bytes0 = a.client().bytes_received();
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(a.pump([&] { return a.manager().phase() == RpsyncManager::Phase::kOnline; }));
  a.pump_for(milliseconds(300));
  const std::size_t full_bytes = a.client().bytes_received() - bytes0;
  const std::size_t full_presence = a.manager().presence_stanzas();
  const std::size_t full_presence_bytes = a.manager().presence_bytes();
  ASSERT_EQ(a.manager().cache().live().size(), static_cast<std::size_t>(kContacts));
  a.manager().logout();
  ASSERT_TRUE(a.pump([&] { return a.recorder().disconnects == 1; }));

  // Two contacts change while alice is away.
  ASSERT_TRUE(contacts[3]->send_presence("dnd", "meeting"));
  contacts[7]->close();
  for (int i = 0; i < 30; ++i) stub.recv(10'000);

  // Session 2: synced reconnect with the marker.
  bytes0 = a.client().bytes_received();
  ASSERT_TRUE(a.connect());
  // Done when the gate confirmed the marked presence (or, without it, once verified).
  ASSERT_TRUE(a.pump([&] {
    return a.recorder().connects == 2 &&
           (a.manager().presence_confirmed() || stub.checkpoints >= 2);
  }));
  a.pump_for(milliseconds(300));
  const std::size_t sync_bytes = a.client().bytes_received() - bytes0;
  ASSERT_EQ(a.recorder().synced.size(), 1u);
  const SyncStats& st = a.recorder().synced[0];

  std::printf(
      "rpsync client, %d online contacts (show+status+priority+caps), Prosody 0.12 + gate:\n"
      "  full login:        %zu bytes received in total (stream setup to settled), "
      "%zu contact presence stanzas = %zu bytes\n"
      "  synced reconnect:  %zu bytes received in total, delta %zu items = %zu bytes, "
      "%zu contact presence stanzas, marked=%d, confirmed by the server=%d\n",
      kContacts, full_bytes, full_presence, full_presence_bytes, sync_bytes, st.items, st.bytes,
      a.manager().presence_stanzas(), a.manager().presence_marked() ? 1 : 0,
      a.manager().presence_confirmed() ? 1 : 0);
  EXPECT_EQ(st.items, 2u);
  EXPECT_EQ(a.manager().presence_stanzas(), 0u);
  EXPECT_LT(sync_bytes, full_bytes);
  EXPECT_EQ(a.manager().cache().live(), stub.view_of("alice@example.test"));
}

}  // namespace
}  // namespace rpsync::client
