// SPDX-License-Identifier: MIT
// The real rpsync-component tells its server apart by itself: attached to ejabberd while
// configured for Prosody (the default server.software), it detects ejabberd from the
// server's disco#info identity / XEP-0356 namespace, warns about the mismatch, and
// reports the gate missing (a Prosody module); attached to Prosody it detects Prosody and
// warns about nothing.
#include "tests/scenario/runtime_support.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;

bool log_shows(ComponentProcess& c, const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

struct Dir {
  Dir() {
    char tmpl[] = "/tmp/rpsync-detect-XXXXXX";
    path = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~Dir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

TEST(ServerDetection, EjabberdDetectedDespiteTheProsodyDefault) {
  std::string why;
  EjabberdOptions o;
  auto server = EjabberdServer::start(o, &why);
  if (!server) {
    if (!EjabberdServer::find_executable()) GTEST_SKIP() << why;
    FAIL() << why;
  }
  Dir dir;
  ComponentProcess component(dir.path, server->component_port(), {});  // software: prosody
  ASSERT_TRUE(component.start(&why)) << why;
  ASSERT_TRUE(log_shows(component, "server.detected", 20s)) << component.log();
  const std::string log = component.log();
  EXPECT_EQ(log_field(log, "server.detected", "software"), "ejabberd") << log;
  EXPECT_EQ(log_field(log, "server.software_mismatch", "detected"), "ejabberd") << log;
  EXPECT_EQ(log_field(log, "server.software_mismatch", "configured"), "prosody") << log;
  EXPECT_NE(log.find("server.gate_missing"), std::string::npos) << log;
}

TEST(ServerDetection, ProsodyDetectedAndNoMismatch) {
  RPSYNC_START_PROSODY_OR_SKIP(server, ProsodyOptions{});
  Dir dir;
  ComponentProcess component(dir.path, server->component_port(), {});
  std::string why;
  ASSERT_TRUE(component.start(&why)) << why;
  ASSERT_TRUE(log_shows(component, "server.detected", 15s)) << component.log();
  const std::string log = component.log();
  EXPECT_EQ(log_field(log, "server.detected", "software"), "prosody") << log;
  EXPECT_EQ(log_field(log, "server.detected", "privilege_ns"), "urn:xmpp:privilege:2") << log;
  EXPECT_EQ(log.find("server.software_mismatch"), std::string::npos) << log;
}

}  // namespace
}  // namespace rpsync::test::scenario
