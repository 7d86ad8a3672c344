// SPDX-License-Identifier: MIT
// The component connection against a real Prosody 0.12 started by the test harness
// (loopback, own config, data dir and ports). Skipped with a reason if prosody is missing.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>

#include "plugin/xmpp/connection.h"
#include "protocol/ns.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/xmpp/support.h"

namespace rpsync::xmpp {
namespace {

using namespace std::chrono_literals;
using test::ProsodyOptions;
using test::ProsodyServer;
using test::TestClient;
using testing::CapturingLogger;
using testing::RecordingHandler;
using testing::run_for;
using testing::run_until;
using Kind = DisconnectReason::Kind;

ComponentConfig config_for(const ProsodyServer& server) {
  ComponentConfig c;
  c.port = server.component_port();
  c.component_jid = server.options().component_jid;
  c.secret = server.options().component_secret;
  c.served_hosts = server.options().hosts;
  c.backoff_min = 100ms;
  c.backoff_max = 400ms;
  c.privilege_timeout = 1000ms;
  c.close_timeout = 1000ms;
  return c;
}

bool is_presence_from(const xml::Element& e, std::string_view from_prefix,
                      std::string_view type = {}) {
  return e.is("presence", ns::kComponent) && e.attr("from").value_or("").starts_with(from_prefix) &&
         e.attr("type").value_or("") == type;
}

class ProsodyTest : public ::testing::Test {
 protected:
  asio::io_context io;
  RecordingHandler handler;
  CapturingLogger logger;

  std::unique_ptr<Connection> connect(const ComponentConfig& c) {
    auto conn = std::make_unique<Connection>(io, c, handler, logger);
    conn->start();
    return conn;
  }
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds t = 5s) {
    return run_until(io, pred, t);
  }
  std::size_t count_presence(std::string_view from, std::string_view type = {}) const {
    std::size_t n = 0;
    for (const auto& s : handler.stanzas) n += is_presence_from(s, from, type);
    return n;
  }
};

TEST_F(ProsodyTest, HandshakeAndPrivilegeAdvertisementV2) {
  ProsodyOptions o;
  o.hosts = {"example.test", "other.test"};
  RPSYNC_START_PROSODY_OR_SKIP(server, o);
  auto conn = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return !handler.connected.empty(); })) << logger.all() << server->log();
  const Privileges& p = handler.connected[0];
  ASSERT_EQ(p.hosts.size(), 2u) << logger.all();
  for (const auto& host : o.hosts) {
    ASSERT_TRUE(p.has(host)) << host;
    EXPECT_EQ(p.hosts.at(host).ns, ns::kPrivilege2);
    EXPECT_EQ(p.hosts.at(host).roster, RosterAccess::kGet);
    EXPECT_EQ(p.hosts.at(host).presence, PresenceAccess::kRoster);
  }
  EXPECT_TRUE(conn->ready());
  EXPECT_TRUE(handler.disconnected.empty());
}

TEST_F(ProsodyTest, MissingPrivilegesAreLoggedWithTheConfigLine) {
  ProsodyOptions o;
  o.grant_privileges = false;
  RPSYNC_START_PROSODY_OR_SKIP(server, o);
  auto c = config_for(*server);
  c.privilege_timeout = 300ms;
  auto conn = connect(c);
  ASSERT_TRUE(wait([&] { return !handler.connected.empty(); })) << logger.all();
  EXPECT_TRUE(handler.connected[0].hosts.empty());
  EXPECT_FALSE(conn->ready());
  EXPECT_EQ(conn->state(), State::kConnected);
  EXPECT_TRUE(
      logger.contains("privileged_entities = { [\\\"rpsync.example.test\\\"] = { roster = "
                      "\\\"get\\\"; presence = \\\"roster\\\"; } }"))
      << logger.all();
}

TEST_F(ProsodyTest, WrongSecretIsNotAuthorizedAndBacksOff) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  auto c = config_for(*server);
  c.secret = "not-the-secret";
  auto conn = connect(c);
  ASSERT_TRUE(wait([&] { return handler.disconnected.size() >= 2; })) << logger.all();
  for (const auto& d : handler.disconnected) {
    EXPECT_EQ(d.kind, Kind::kStreamError);
    EXPECT_EQ(d.condition, "not-authorized");
  }
  EXPECT_EQ(conn->state(), State::kBackoff);
  EXPECT_GE(conn->last_backoff(), 50ms);  // [min/2, max] of 100..400 ms
  EXPECT_TRUE(handler.connected.empty());
}

TEST_F(ProsodyTest, UnknownComponentNameIsHostUnknown) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  auto c = config_for(*server);
  c.component_jid = "nope.example.test";
  auto conn = connect(c);
  ASSERT_TRUE(wait([&] { return !handler.disconnected.empty(); })) << logger.all();
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kStreamError);
  EXPECT_EQ(handler.disconnected[0].condition, "host-unknown");
  EXPECT_TRUE(logger.contains("add Component \\\"nope.example.test\\\"")) << logger.all();
}

TEST_F(ProsodyTest, SecondConnectionWithTheSameNameGetsConflict) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  auto first = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return first->ready(); })) << logger.all();
  RecordingHandler second_handler;
  CapturingLogger second_logger;
  Connection second(io, config_for(*server), second_handler, second_logger);
  second.start();
  ASSERT_TRUE(wait([&] { return !second_handler.disconnected.empty(); })) << second_logger.all();
  EXPECT_EQ(second_handler.disconnected[0].kind, Kind::kStreamError);
  EXPECT_EQ(second_handler.disconnected[0].condition, "conflict");
  EXPECT_TRUE(second_logger.contains("another connection already uses")) << second_logger.all();
  run_for(io, 100ms);
  EXPECT_TRUE(first->ready());  // the first one is not disturbed
  EXPECT_TRUE(handler.disconnected.empty());
}

TEST_F(ProsodyTest, UserPresenceAvailableUnavailableAndTcpAbortArriveRaw) {
  auto server = ProsodyServer::create({}, nullptr);
  if (!server) GTEST_SKIP() << "prosody is not installed";
  server->add_user("alice", "example.test", "pw-a");
  server->add_user("bob", "example.test", "pw-b");
  server->add_roster_item("alice@example.test", "bob@example.test", "both");
  server->add_roster_item("bob@example.test", "alice@example.test", "both");
  ASSERT_TRUE(server->launch()) << server->log();
  auto conn = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return conn->ready(); })) << logger.all();

  std::string why;
  auto bob = TestClient::login(server->c2s_port(), "bob", "example.test", "pw-b", "phone", &why);
  ASSERT_TRUE(bob) << why;
  ASSERT_TRUE(bob->send_presence("away", "on the phone"));
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/phone") > 0; })) << logger.all();
  const xml::Element* got = nullptr;
  for (const auto& s : handler.stanzas)
    if (is_presence_from(s, "bob@example.test/phone")) got = &s;
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->child_text("show"), "away");
  EXPECT_EQ(got->child_text("status"), "on the phone");
  EXPECT_EQ(got->child("delay", ns::kDelay), nullptr);  // live, not a replay

  bob->close();
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/phone", "unavailable") > 0; }))
      << logger.all();

  auto bob2 = TestClient::login(server->c2s_port(), "bob", "example.test", "pw-b", "laptop", &why);
  ASSERT_TRUE(bob2) << why;
  ASSERT_TRUE(bob2->send_presence());
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/laptop") > 0; }));
  bob2->abort();
  ASSERT_TRUE(wait([&] { return count_presence("bob@example.test/laptop", "unavailable") > 0; }))
      << logger.all() << server->log();
}

TEST_F(ProsodyTest, PresenceOfOnlineUsersIsReplayedOnConnect) {
  auto server = ProsodyServer::create({}, nullptr);
  if (!server) GTEST_SKIP() << "prosody is not installed";
  server->add_user("carol", "example.test", "pw");
  ASSERT_TRUE(server->launch()) << server->log();
  std::string why;
  auto carol = TestClient::login(server->c2s_port(), "carol", "example.test", "pw", "desk", &why);
  ASSERT_TRUE(carol) << why;
  ASSERT_TRUE(carol->send_presence("dnd"));
  // The user is online before the component connects: Prosody replays with <delay/>.
  auto conn = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return count_presence("carol@example.test/desk") > 0; })) << logger.all();
  for (const auto& s : handler.stanzas) {
    if (is_presence_from(s, "carol@example.test/desk")) {
      EXPECT_NE(s.child("delay", ns::kDelay), nullptr);
    }
  }
}

TEST_F(ProsodyTest, PrivilegedRosterGetWorksForOfflineAndOnlineUsers) {
  auto server = ProsodyServer::create({}, nullptr);
  if (!server) GTEST_SKIP() << "prosody is not installed";
  server->add_user("alice", "example.test", "pw");
  server->add_roster_item("alice@example.test", "bob@example.test", "both");
  server->add_roster_item("alice@example.test", "carol@remote.test", "to");
  server->add_roster_item("alice@example.test", "dave@example.test", "from");
  ASSERT_TRUE(server->launch()) << server->log();
  auto conn = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return conn->ready(); })) << logger.all();

  auto roster_of_alice = [&]() -> std::map<std::string, std::string> {
    xml::Element iq("iq", std::string(ns::kComponent));
    iq.set_attr("type", "get");
    iq.set_attr("to", "alice@example.test");
    iq.add(xml::Element("query", std::string(ns::kRoster)));
    std::optional<proto::Result<xml::Element>> result;
    conn->send_iq(iq, 3s, [&](proto::Result<xml::Element> r) { result = std::move(r); });
    if (!wait([&] { return result.has_value(); })) return {{"timeout", ""}};
    if (!result->ok()) return {{"error", std::string(proto::to_string(result->error().condition))}};
    const xml::Element* query = (*result)->child("query", ns::kRoster);
    if (!query) return {{"no query", ""}};
    std::map<std::string, std::string> items;
    for (const auto& item : query->children())
      items[std::string(item.attr("jid").value_or(""))] =
          std::string(item.attr("subscription").value_or(""));
    return items;
  };
  const std::map<std::string, std::string> expected{
      {"bob@example.test", "both"}, {"carol@remote.test", "to"}, {"dave@example.test", "from"}};
  EXPECT_EQ(roster_of_alice(), expected);  // offline
  std::string why;
  auto alice = TestClient::login(server->c2s_port(), "alice", "example.test", "pw", "r", &why);
  ASSERT_TRUE(alice) << why;
  ASSERT_TRUE(alice->send_presence());
  EXPECT_EQ(roster_of_alice(), expected);  // online
}

TEST_F(ProsodyTest, ReconnectsByItselfAfterProsodyIsKilledAndRestarted) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  auto conn = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return conn->ready(); })) << logger.all();
  server->kill();
  ASSERT_TRUE(wait([&] { return !handler.disconnected.empty(); })) << logger.all();
  EXPECT_TRUE(handler.disconnected[0].was_authenticated);
  EXPECT_NE(handler.disconnected[0].kind, Kind::kStopped);
  run_for(io, 300ms);  // a few refused attempts while it is down
  ASSERT_TRUE(server->launch()) << server->log();
  ASSERT_TRUE(wait([&] { return handler.connected.size() >= 2 && conn->ready(); }, 10s))
      << logger.all();
  EXPECT_GE(handler.disconnected.size(), 2u);  // the kill plus at least one refused connect
}

TEST_F(ProsodyTest, KeepalivePingsAreAnsweredSoAnIdleConnectionStaysUp) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  auto c = config_for(*server);
  c.keepalive_interval = 100ms;
  c.ping_timeout = 400ms;
  auto conn = connect(c);
  ASSERT_TRUE(wait([&] { return conn->ready(); })) << logger.all();
  // 12 intervals with nothing else on the stream: without answered pings it would be
  // declared dead after 500 ms.
  run_for(io, 1200ms);
  EXPECT_TRUE(handler.disconnected.empty()) << logger.all();
  EXPECT_TRUE(conn->ready());
  EXPECT_TRUE(handler.stanzas.empty());  // Prosody's ping answers are consumed
}

TEST_F(ProsodyTest, StopClosesTheStreamGracefully) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  auto conn = connect(config_for(*server));
  ASSERT_TRUE(wait([&] { return conn->ready(); })) << logger.all();
  bool done = false;
  conn->stop([&] { done = true; });
  ASSERT_TRUE(wait([&] { return done; }, 3s));
  EXPECT_EQ(conn->state(), State::kStopped);
  EXPECT_FALSE(logger.contains("stream.close_timeout")) << logger.all();
  ASSERT_EQ(handler.disconnected.size(), 1u);
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kStopped);
}

}  // namespace
}  // namespace rpsync::xmpp
