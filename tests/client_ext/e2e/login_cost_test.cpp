// SPDX-License-Identifier: MIT
// What the client library leaves out of a login against a real Prosody 0.12 (which marks
// the legacy <session/> optional): no session establishment, and TCP_NODELAY on gloox's
// socket; each with its switch turned off as the control (gloox's own behaviour).
#include <gloox/connectiontcpbase.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "gloox_session.h"
#include "tests/client_ext/test_env.h"
#include "tests/harness/prosody/prosody_server.h"

namespace rpsync::client {
namespace {

using testing::GlooxSession;

constexpr const char* kSessionNs = "urn:ietf:params:xml:ns:xmpp-session";

std::unique_ptr<test::ProsodyServer> start_server(std::string* why, bool gate = false) {
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, why);
  if (!server) return nullptr;
  server->add_user("alice", "example.test", "pw");
  if (gate && !testing::load_gate_into(*server)) {
    *why = "cannot load mod_rpsync_gate";
    return nullptr;
  }
  if (!server->launch()) {
    *why = "prosody did not start: " + server->log();
    return nullptr;
  }
  return server;
}

#define START_OR_SKIP(var, ...)                                             \
  std::string var##_why;                                                    \
  auto var = start_server(&var##_why __VA_OPT__(, ) __VA_ARGS__);           \
  if (!var) {                                                               \
    if (!test::ProsodyServer::find_executable()) GTEST_SKIP() << var##_why; \
    FAIL() << var##_why;                                                    \
  }

bool received_optional_session(const testing::Recorder& r) {
  for (const std::string& s : r.wire)
    if (s.starts_with("<< <stream:features") && s.find(kSessionNs) != std::string::npos &&
        s.find("<optional/>") != std::string::npos)
      return true;
  return false;
}

// -1 when the socket is not reachable.
int nodelay_of(Client& client) {
  auto* tcp = dynamic_cast<gloox::ConnectionTCPBase*>(client.connectionImpl());
  if (tcp == nullptr || tcp->socket() < 0) return -1;
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(tcp->socket(), IPPROTO_TCP, TCP_NODELAY, &value, &len) != 0) return -1;
  return value != 0 ? 1 : 0;
}

// The control runs first: gloox logs the features it was handed, which with the skip on
// no longer list <session/>.
TEST(LoginCost, OptionalSessionIsNotEstablished) {
  START_OR_SKIP(server);
  for (bool skip : {false, true}) {
    MemorySessionStore store;
    GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
    alice.client().set_skip_optional_session(skip);
    ASSERT_TRUE(alice.connect());
    ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; })) << server->log();
    if (!skip) {
      ASSERT_TRUE(received_optional_session(alice.recorder()))
          << "the server no longer offers an optional session; the test proves nothing";
    }
    const bool sent = alice.recorder().find_outgoing(kSessionNs) >= 0;
    EXPECT_EQ(sent, !skip) << "skip=" << skip;
    alice.client().disconnect();
  }
}

TEST(LoginCost, NagleIsOffOnTheClientSocket) {
  START_OR_SKIP(server);
  for (bool nodelay : {true, false}) {
    MemorySessionStore store;
    GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
    alice.client().set_tcp_nodelay(nodelay);
    ASSERT_TRUE(alice.connect());
    ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; })) << server->log();
    EXPECT_EQ(nodelay_of(alice.client()), nodelay ? 1 : 0);
    alice.client().disconnect();
  }
}

// With mod_rpsync_gate the stream features announce <synced/>: the marker is known to be
// safe without the disco#info of the server; without the module it is asked for.
TEST(LoginCost, SyncedSupportFromStreamFeaturesNeedsNoDiscoInfo) {
  for (bool gate : {true, false}) {
    START_OR_SKIP(server, gate);
    MemorySessionStore store;
    GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
    ASSERT_TRUE(alice.connect());
    ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; })) << server->log();
    EXPECT_EQ(alice.client().server_announces_synced(), gate);
    alice.pump_for(std::chrono::milliseconds(300));  // a disco#info answer would be in
    EXPECT_EQ(alice.manager().server_skips_flood(), gate);
    bool asked = false;  // disco#info of the server (the component walk asks its items)
    for (const std::string& out : alice.recorder().outgoing)
      if (out.find("to='example.test'") != std::string::npos &&
          out.find("disco#info") != std::string::npos)
        asked = true;
    EXPECT_EQ(asked, !gate) << "gate=" << gate;
    alice.client().disconnect();
  }
}

}  // namespace
}  // namespace rpsync::client
