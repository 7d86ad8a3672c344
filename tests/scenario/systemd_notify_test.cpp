// SPDX-License-Identifier: MIT
// systemd notifications of the real rpsync-component against a real Prosody: a unix
// datagram socket stands in for systemd (NOTIFY_SOCKET). READY=1 must not arrive while the
// server is unreachable, nor while the server withholds the XEP-0356 privileges; it
// arrives once connected and privileged, after the component logged its privileged
// connect. STATUS= follows the connection, WATCHDOG=1 comes at half of WATCHDOG_USEC, and
// SIGTERM sends STOPPING=1.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "tests/harness/prosody/prosody_server.h"
#include "tests/scenario/component_process.h"
#include "tests/scenario/runtime_support.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/rpsync-notify-XXXXXX";
    path = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

ComponentSpec notified(const TempDir& dir, const NotifySocket& sock) {
  const std::string cfg = dir.path + "/rpsync.toml";
  std::ofstream(cfg) << "[connection]\nbackoff_min_ms = 100\nbackoff_max_ms = 300\n";
  ComponentSpec spec;
  spec.extra_args = {"--config", cfg};
  spec.env = {sock.env(), "WATCHDOG_USEC=400000"};
  return spec;
}

TEST(SystemdNotify, ReadyOnlyOnceTheServerIsReachedAndGrantsPrivileges) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  NotifySocket sock(dir.path + "/notify.sock");
  ASSERT_TRUE(sock.ok());
  std::string why;
  auto server = ProsodyServer::create({}, &why);  // ports chosen, not listening yet
  if (!server) GTEST_SKIP() << why;
  ComponentProcess component(dir.path, server->component_port(), notified(dir, sock));
  ASSERT_TRUE(component.start(&why)) << why;

  EXPECT_TRUE(sock.wait_for("WATCHDOG=1", 2s)) << sock.all();
  ASSERT_TRUE(sock.wait_for("STATUS=reconnecting: connect-failed", 3s)) << sock.all();
  EXPECT_TRUE(sock.wait_for("READY=1", 1500ms) == false) << sock.all();

  ASSERT_TRUE(server->launch()) << server->log();
  ASSERT_TRUE(sock.wait_for("READY=1", 15s)) << sock.all() << component.log();
  EXPECT_TRUE(sock.seen("READY=1\nSTATUS=connected, privileged")) << sock.all();
  const std::string log = component.log();
  const auto privileged = log.find("service: server.connected privileged=yes");
  const auto ready = log.find("app: systemd.ready");
  ASSERT_NE(privileged, std::string::npos) << log;
  ASSERT_NE(ready, std::string::npos) << log;
  EXPECT_LT(privileged, ready) << log;

  EXPECT_EQ(component.terminate(), 0);
  EXPECT_TRUE(sock.wait_for("STOPPING=1", 1s)) << sock.all();
}

TEST(SystemdNotify, NoReadyWhileTheServerWithholdsPrivileges) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  NotifySocket sock(dir.path + "/notify.sock");
  ASSERT_TRUE(sock.ok());
  ProsodyOptions o;
  o.grant_privileges = false;
  RPSYNC_START_PROSODY_OR_SKIP(server, o);
  ComponentProcess component(dir.path, server->component_port(), notified(dir, sock));
  std::string why;
  ASSERT_TRUE(component.start(&why)) << why;
  // The privilege advertisement is awaited for 5 s, then the component reports connected.
  ASSERT_TRUE(sock.wait_for("STATUS=connected, waiting for privileges", 15s))
      << sock.all() << component.log();
  EXPECT_FALSE(sock.wait_for("READY=1", 1s)) << sock.all();
  EXPECT_TRUE(component.alive());
}

}  // namespace
}  // namespace rpsync::test::scenario
