// SPDX-License-Identifier: MIT
// The multi-instance fixture: two rpsync-component instances, A and B, attached to one
// Prosody as two component JIDs (each privileged), sharing one real redis-server (AOF,
// appendfsync always) through the change feed. Prosody only: the harness's ejabberd
// config has one component name (ejabberd would load-balance two connections of it).
// The scenarios are in multi_instance_*_test.cpp, one group per file.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/redis/redis_server.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario::multi {

using proto::AppCondition;
using proto::Show;

inline constexpr const char* kA = "rpsync-a.example.test";
inline constexpr const char* kB = "rpsync-b.example.test";
inline const std::string kAlice = "alice@example.test";

// Runs rpsync-component as an operator would (admin commands); exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
inline CommandResult run_component_command(const std::vector<std::string>& args) {
  std::string cmd = RPSYNC_COMPONENT_BINARY;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) r.output += buf;
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class MultiInstance : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    redis = RedisServer::start({}, &why);
    if (!redis) {
      if (!RedisServer::find_executable()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    ProsodyOptions o;
    o.hosts = {"example.test"};
    o.component_jid = kA;
    prosody = ProsodyServer::create(o, &why);
    if (!prosody) {
      if (!ProsodyServer::find_executable()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    ASSERT_TRUE(add_second_component(why)) << why;
    for (const char* u : {"alice", "carol", "dave", "erin", "probe"})
      prosody->add_user(u, "example.test", kPassword);
    for (const char* c : {"carol@example.test", "dave@example.test", "erin@example.test"}) {
      prosody->add_roster_item(kAlice, c, Subscription::kBoth);
      prosody->add_roster_item(c, kAlice, Subscription::kBoth);
    }
    ASSERT_TRUE(prosody->launch()) << prosody->log();
    a = start_instance(kA, "A");
    b = start_instance(kB, "B");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(ready(*a, kA, std::chrono::seconds(30), &why)) << why;
    ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;
  }

  void TearDown() override {
    if (a && b && std::getenv("RPSYNC_SHOW_LOGS")) std::printf("%s\n", logs().c_str());
    a.reset();
    b.reset();
    for (const auto& d : dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }

  // The harness writes one Component; B is a second one with the same privileges.
  bool add_second_component(std::string& why) {
    const auto cfg = std::filesystem::path(prosody->dir()) / "prosody.cfg.lua";
    std::stringstream text;
    text << std::ifstream(cfg).rdbuf();
    std::string c = text.str();
    const std::string grant =
        "[\"" + std::string(kA) + "\"] = { roster = \"get\"; presence = \"roster\"; }";
    const auto at = c.find(grant);
    if (at == std::string::npos) {
      why = "unexpected harness config:\n" + c;
      return false;
    }
    c.insert(at + grant.size(),
             std::string("; [\"") + kB + "\"] = { roster = \"get\"; presence = \"roster\"; }");
    c += std::string("Component \"") + kB + "\"\n  component_secret = \"s3cret\"\n" +
         "  modules_enabled = { \"privilege\" }\n";
    std::ofstream(cfg, std::ios::trunc) << c;
    return true;
  }

  // `port`: the server's component port, or a proxy's in front of it (0: the server's).
  std::unique_ptr<ComponentProcess> start_instance(const std::string& jid, const std::string& id,
                                                   std::uint16_t port = 0) {
    char tmpl[] = "/tmp/rpsync-multi-XXXXXX";
    if (!::mkdtemp(tmpl)) return nullptr;
    dirs.emplace_back(tmpl);
    ComponentSpec spec;
    spec.component_jid = jid;
    spec.extra_args = {"--store", redis->uri(0, "rpsync"), "--instance-id", id,
                       "--heartbeat-ttl-ms", "3000", "--server-software", "prosody",
                       // the tests poll; the limit is not what they are about
                       "--requests-per-minute", "100000"};
    auto p =
        std::make_unique<ComponentProcess>(tmpl, port ? port : prosody->component_port(), spec);
    std::string why;
    EXPECT_TRUE(p->start(&why)) << why;
    return p;
  }

  bool ready(ComponentProcess& c, const std::string& jid, std::chrono::milliseconds timeout,
             std::string* why) {
    return component_ready(prosody->c2s_port(), c, jid, timeout, why);
  }

  std::unique_ptr<Party> logs_in(const std::string& bare, const std::string& resource) {
    return scenario::logs_in(prosody->c2s_port(), bare, resource);
  }
  std::unique_ptr<Party> comes_online(const std::string& bare, const std::string& resource,
                                      const proto::PresenceFields& fields = {}) {
    return scenario::comes_online(prosody->c2s_port(), bare, resource, fields);
  }
  Flood fresh_full_login(const std::string& bare) {
    return scenario::fresh_full_login(prosody->c2s_port(), bare, "fresh-" + std::to_string(++fresh),
                                      Millis{0});
  }

  // Sends `payload()` as an IQ set until `done(answer)` or `timeout`; ids are prefix + a
  // number, the last one in until_id.
  template <class Done>
  Answer until(Party& p, const std::string& to, const std::string& prefix,
               const std::function<xml::Element()>& payload, Done done,
               std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Answer last;
    for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
      until_id = prefix + std::to_string(i);
      last = p.sends_iq(to, "set", payload(), until_id, std::chrono::seconds(3));
      if (done(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return last;
  }

  // Waits (bounded) until `c`'s log holds `needle` at least `times` times.
  static bool log_shows(ComponentProcess& c, const std::string& needle, int times = 1,
                        std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = c.log();
      int n = 0;
      for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
      if (n >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // `p` syncs with `key` through `component`, retried while it answers not-ready (Redis
  // coming back, bounded); the new key's last id is until_id.
  Answer syncs_when_ready(Party& p, const std::string& component, const proto::SyncKey& key,
                          const std::string& prefix) {
    return until(
        p, component, prefix,
        [&] {
          return proto::to_xml(proto::Sync{p.stream_id(), key});
        },
        [](const Answer& x) { return x.app() != AppCondition::kNotReady; },
        std::chrono::seconds(20));
  }

  std::string logs() { return "--- A ---\n" + a->log() + "\n--- B ---\n" + b->log(); }

  // What alice must be told after carol changed, dave/pc arrived and erin/laptop left.
  static void expect_carol_changed_dave_came_erin_left(const proto::Delta& delta) {
    EXPECT_EQ(delta.changed.size(), 1u) << describe(delta);
    EXPECT_EQ(delta.added.size(), 1u) << describe(delta);
    EXPECT_EQ(delta.unavailable, std::vector<std::string>{"erin@example.test/laptop"});
  }

  // alice logs in as alice/phone, sees `contacts` available resources (her model of them
  // goes to `model`), enables through `component` with id `id` and logs out. The key, or
  // one with an empty stream after a reported failure.
  proto::SyncKey alice_enables(const std::string& component, const std::string& id,
                               std::size_t contacts, proto::PresenceState& model) {
    auto first = logs_in(kAlice, "phone");
    if (!first) {
      ADD_FAILURE() << "alice cannot log in";
      return {};
    }
    Flood flood = first->sends_presence_and_collects_flood({}, Millis{0});
    EXPECT_TRUE(flood.complete);
    EXPECT_EQ(flood.state.size(), contacts) << describe(flood.state);
    model = flood.state;
    Answer enabled = first->sends_enable(component, id);
    EXPECT_TRUE(enabled.ok()) << enabled.describe() << logs();
    const proto::SyncKey key = enabled.ok() ? first->key(id) : proto::SyncKey{};
    first->closes();
    return key;
  }

  // alice logs in again as alice/phone (the session goes to `again`) and syncs `key`
  // through `component` with id "s1"; the delta, applied to `model`, must give a fresh
  // login's view. nullopt after a reported failure.
  std::optional<proto::Delta> alice_syncs(const std::string& component, const proto::SyncKey& key,
                                          proto::PresenceState& model,
                                          std::unique_ptr<Party>& again) {
    again = logs_in(kAlice, "phone");
    if (!again) {
      ADD_FAILURE() << "alice cannot log in again";
      return std::nullopt;
    }
    std::string why;
    auto delta = delta_of(again->sends_sync(component, "s1", key), &why);
    if (!delta) {
      ADD_FAILURE() << why << "\n" << logs();
      return std::nullopt;
    }
    EXPECT_TRUE(proto::apply(model, *delta)) << describe(model) << describe(*delta);
    EXPECT_EQ(proto::digest_of(model), delta->state);
    Flood fresh_login = fresh_full_login(kAlice);
    EXPECT_EQ(model, fresh_login.state) << describe(model) << "\n" << describe(fresh_login.state);
    return delta;
  }

  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<ProsodyServer> prosody;
  std::unique_ptr<ComponentProcess> a, b;
  std::vector<std::string> dirs;
  int fresh = 0;
  std::string until_id;  // id of the last request until() sent
};

// alice's session through `component`: logs in, sees her contacts, enables with id `id`.
// Returns the key (or a key with an empty stream on failure).
inline proto::SyncKey enabled_session(Party& alice, const std::string& component,
                                      const std::string& id) {
  Flood f = alice.sends_presence_and_collects_flood({}, Millis{0});
  EXPECT_TRUE(f.complete);
  Answer e = alice.sends_enable(component, id);
  EXPECT_TRUE(e.ok()) << e.describe();
  return e.ok() ? alice.key(id) : proto::SyncKey{};
}

inline xml::Element ping() {
  return xml::Element("ping", std::string(ns::kPing));
}

}  // namespace rpsync::test::scenario::multi
