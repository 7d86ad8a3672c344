// SPDX-License-Identifier: MIT
// The same connection-level scenarios typed over both real servers (ProsodyServer and
// EjabberdServer share one public shape), with each server's measured answer as data.
// This is where the difference rpsync must handle shows up: a TCP abort with no contact
// online reaches the component on Prosody and does not on ejabberd.
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <cstdio>

#include "plugin/xmpp/connection.h"
#include "protocol/ns.h"
#include "tests/harness/ejabberd/ejabberd_server.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"
#include "tests/plugin/xmpp/support.h"

namespace rpsync::xmpp {
namespace {

using namespace std::chrono_literals;
using test::EjabberdServer;
using test::ProsodyServer;
using test::TestClient;

// What each server was measured to do (docs/architecture.md, docs/ejabberd.md).
template <class Server>
struct Facts;
template <>
struct Facts<ProsodyServer> {
  using Options = test::ProsodyOptions;
  static constexpr std::string_view kPrivilegeNs = ns::kPrivilege2;
  static constexpr std::size_t kCopiesOfOneBroadcastWithTwoContactsOnline = 1;
  static constexpr std::size_t kCopiesOfTcpAbortWithNoContactOnline = 1;
};
template <>
struct Facts<EjabberdServer> {
  using Options = test::EjabberdOptions;
  static constexpr std::string_view kPrivilegeNs = ns::kPrivilege1;
  static constexpr std::size_t kCopiesOfOneBroadcastWithTwoContactsOnline = 3;
  static constexpr std::size_t kCopiesOfTcpAbortWithNoContactOnline = 0;
};

template <class Server>
class BothServers : public ::testing::Test {
 protected:
  asio::io_context io;
  testing::RecordingHandler handler;
  testing::CapturingLogger logger;
  std::unique_ptr<Server> server;
  std::unique_ptr<Connection> conn;

  void start_with_users(const std::vector<std::string>& names) {
    std::string why;
    server = Server::create(typename Facts<Server>::Options{}, &why);
    if (!server) GTEST_SKIP() << why;
    for (const auto& n : names) server->add_user(n, "example.test", "pw-" + n);
    for (const auto& a : names)
      for (const auto& b : names)
        if (a != b)
          server->add_roster_item(a + "@example.test", b + "@example.test",
                                  test::Subscription::kBoth);
    ASSERT_TRUE(server->launch()) << server->log();
    ComponentConfig c;
    c.port = server->component_port();
    c.component_jid = server->options().component_jid;
    c.secret = server->options().component_secret;
    c.served_hosts = server->options().hosts;
    c.privilege_timeout = 3000ms;
    conn = std::make_unique<Connection>(io, c, handler, logger);
    conn->start();
    ASSERT_TRUE(testing::run_until(
        io, [&] { return conn->ready(); }, 10s))
        << logger.all();
  }
  std::unique_ptr<TestClient> online(const std::string& user, const std::string& resource) {
    std::string why;
    auto c =
        TestClient::login(server->c2s_port(), user, "example.test", "pw-" + user, resource, &why);
    EXPECT_TRUE(c) << why;
    if (c) {
      EXPECT_TRUE(c->send_presence());
    }
    return c;
  }
  std::size_t count(std::string_view from, std::string_view type = {}) const {
    std::size_t n = 0;
    for (const auto& s : handler.stanzas)
      n += s.is("presence", ns::kComponent) && s.attr("from").value_or("") == from &&
           s.attr("type").value_or("") == type;
    return n;
  }
  bool wait(const std::function<bool()>& pred, std::chrono::milliseconds t = 5s) {
    return testing::run_until(io, pred, t);
  }
};

using Servers = ::testing::Types<ProsodyServer, EjabberdServer>;
struct ServerName {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, ProsodyServer> ? "Prosody" : "Ejabberd";
  }
};
TYPED_TEST_SUITE(BothServers, Servers, ServerName);

TYPED_TEST(BothServers, PrivilegesAreAdvertisedInTheServersNamespace) {
  this->start_with_users({});
  if (this->IsSkipped()) return;
  const auto& p = this->conn->privileges();
  ASSERT_TRUE(p.has("example.test"));
  EXPECT_EQ(p.hosts.at("example.test").ns, Facts<TypeParam>::kPrivilegeNs);
}

TYPED_TEST(BothServers, CopiesOfOneBroadcastWithTwoContactsOnline) {
  this->start_with_users({"alice", "bob", "carol"});
  if (this->IsSkipped()) return;
  auto bob = this->online("bob", "b");
  auto carol = this->online("carol", "c");
  ASSERT_TRUE(bob && carol);
  testing::run_for(this->io, 500ms);
  this->handler.stanzas.clear();
  auto alice = this->online("alice", "desk");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(this->wait([&] { return this->count("alice@example.test/desk") > 0; }));
  testing::run_for(this->io, 1000ms);
  std::printf("[%s] copies of one broadcast, 2 contacts online: %zu\n",
              ServerName::GetName<TypeParam>(0).c_str(), this->count("alice@example.test/desk"));
  EXPECT_EQ(this->count("alice@example.test/desk"),
            Facts<TypeParam>::kCopiesOfOneBroadcastWithTwoContactsOnline);
}

TYPED_TEST(BothServers, TcpAbortWithNoContactOnline) {
  this->start_with_users({"alice", "bob"});
  if (this->IsSkipped()) return;
  auto alice = this->online("alice", "phone");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(this->wait([&] { return this->count("alice@example.test/phone") > 0; }));
  alice->abort();
  testing::run_for(this->io, 2500ms);
  std::printf("[%s] implicit unavailable after TCP abort, no contact online: %zu copies\n",
              ServerName::GetName<TypeParam>(0).c_str(),
              this->count("alice@example.test/phone", "unavailable"));
  EXPECT_EQ(this->count("alice@example.test/phone", "unavailable"),
            Facts<TypeParam>::kCopiesOfTcpAbortWithNoContactOnline);
}

}  // namespace
}  // namespace rpsync::xmpp
