// SPDX-License-Identifier: MIT
// The world a scenario runs in: a real XMPP server (Prosody now; any server harness with
// ProsodyServer's public shape, e.g. tests/harness/ejabberd's EjabberdServer, later), its
// users and rosters, and the real rpsync-component binary attached to it as a child
// process with its own temp dir and sqlite store.
//
// Scenarios are typed tests over `Servers`; adding a server is one ServerTraits
// specialisation and one entry in that list. Every scenario starts its own world (a fresh
// server and component), so scenarios never see each other's state.
//
// Contract: Scenario<Server>::start() launches the server with every user and roster item
// of the spec, then the component, and returns once the component answers rpsync requests
// (not with not-ready). Everything is torn down by the destructor (component killed
// first). Not thread-safe.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "protocol/ns.h"
#include "protocol/state.h"
#include "tests/harness/ejabberd/ejabberd_server.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/scenario/component_process.h"
#include "tests/scenario/party.h"

namespace rpsync::test::scenario {

inline constexpr const char* kPassword = "pw";

template <class Server>
struct ServerTraits;
template <>
struct ServerTraits<ProsodyServer> {
  using Options = ProsodyOptions;
  static constexpr const char* kName = "prosody";
  // Prosody answers local probes synchronously: the flood is complete at a ping result.
  static constexpr Millis kFloodQuiet{0};
  // On a component (re)connect Prosody re-sends every current available presence of its
  // users (docs/architecture.md), so a restarted component re-learns the state of online sessions.
  static constexpr bool kResendsPresenceOnComponentConnect = true;
  static constexpr const char* kSoftware = "prosody";  // rpsync-component --server-software
  // mod_rpsync_gate (plugin/prosody) versions the component's privileged roster gets.
  static constexpr bool kVersionsComponentRoster = true;
  static void with_module(Options&, bool) {}  // WorldSpec::ejabberd_module: ejabberd only

  // Loads mod_rpsync_gate (and mod_blocklist) from the source tree (plugin_paths) on every
  // VirtualHost of the created, not yet launched server's config; false (with `why`) if the config
  // is not the harness's.
  static bool load_gate(ProsodyServer& server, std::string* why) {
    const std::filesystem::path cfg = std::filesystem::path(server.dir()) / "prosody.cfg.lua";
    std::stringstream text;
    text << std::ifstream(cfg).rdbuf();
    const std::string before = text.str();
    const auto first_host = before.find("\nVirtualHost ");
    if (first_host == std::string::npos) {
      *why = "unexpected harness config in " + cfg.string();
      return false;
    }
    std::string after =
        before.substr(0, first_host + 1) + "plugin_paths = { \"" RPSYNC_GATE_PLUGIN_DIR "\" }\n";
    std::istringstream lines(before.substr(first_host + 1));
    for (std::string line; std::getline(lines, line);) {
      after += line + "\n";
      // mod_blocklist as in Debian's default config: the gate hides what it withholds.
      if (line.rfind("VirtualHost ", 0) == 0)
        after += "  modules_enabled = { \"rpsync_gate\"; \"blocklist\" }\n";
    }
    std::ofstream(cfg, std::ios::trunc) << after;
    return true;
  }
};

template <>
struct ServerTraits<EjabberdServer> {
  using Options = EjabberdOptions;
  static constexpr const char* kName = "ejabberd";
  // ejabberd routes probe answers asynchronously: they may follow a ping result.
  static constexpr Millis kFloodQuiet{400};
  // ejabberd itself sends nothing on a component connect; its mod_rpsync_gate, which
  // scenario worlds load unless WorldSpec::ejabberd_module is false, re-sends every
  // current presence and then <sessions-sent/> (docs/ejabberd.md).
  static constexpr bool kResendsPresenceOnComponentConnect = true;
  static constexpr const char* kSoftware = "ejabberd";
  // ejabberd's privileged roster answer carries no version (mod_roster versioning is off by
  // default), so the component's roster cache never holds anything there.
  static constexpr bool kVersionsComponentRoster = false;
  static bool load_gate(EjabberdServer&, std::string*) { return true; }  // a Prosody module
  // mod_rpsync_gate for ejabberd (plugin/ejabberd), reporting to the world's component.
  static void with_module(Options& o, bool on) {
    if (on) o.gate_beam_dir = EjabberdServer::built_gate_dir();
  }
};

// The servers every scenario runs on: Prosody 0.12 and ejabberd 23.01.
using Servers = ::testing::Types<ProsodyServer, EjabberdServer>;

struct ServerNames {
  template <class Server>
  static std::string GetName(int) {
    return ServerTraits<Server>::kName;
  }
};

struct RosterItem {
  std::string owner;    // bare JID
  std::string contact;  // bare JID
  std::string subscription = Subscription::kBoth;
};

struct WorldSpec {
  std::vector<std::string> hosts{"example.test", "other.test"};  // VirtualHosts
  std::vector<std::string> users;                                // bare JIDs, password kPassword
  std::vector<RosterItem> roster;
  ComponentSpec component;
  bool rpsync_gate = false;  // load mod_rpsync_gate on every VirtualHost (Prosody only)
  // ejabberd: load mod_rpsync_gate (plugin/ejabberd: gate, session reports, re-send on
  // component connect), the supported deployment; false runs ejabberd as shipped, where
  // the component answers only syncs it can prove.
  bool ejabberd_module = true;
};

// bare/resource logs in on the server's c2s port (a test failure if it cannot).
inline std::unique_ptr<Party> logs_in(std::uint16_t c2s_port, const std::string& bare,
                                      const std::string& resource) {
  std::string why;
  auto p = Party::login(c2s_port, bare, kPassword, resource, &why);
  EXPECT_TRUE(p) << bare << "/" << resource << ": " << why;
  return p;
}

// bare/resource logs in, sends presence with `fields` and the server has processed it.
inline std::unique_ptr<Party> comes_online(std::uint16_t c2s_port, const std::string& bare,
                                           const std::string& resource,
                                           const proto::PresenceFields& fields = {}) {
  auto p = logs_in(c2s_port, bare, resource);
  if (!p) return p;
  EXPECT_TRUE(p->sends_presence(fields));
  EXPECT_TRUE(p->settles());
  return p;
}

// What a fresh full login of `bare` (as `resource`) shows now: initial presence, the flood
// (complete once quiet for `quiet` after a ping result, see Party).
inline Flood fresh_full_login(std::uint16_t c2s_port, const std::string& bare,
                              const std::string& resource, Millis quiet) {
  auto p = logs_in(c2s_port, bare, resource);
  if (!p) return {};
  Flood f = p->sends_presence_and_collects_flood({}, quiet);
  EXPECT_TRUE(f.complete);
  p->closes();
  return f;
}

// Waits, bounded by `timeout`, until the component `jid` (run by `component`) answers
// disco#info and then answers a <disable/> for a stream never enabled with anything but
// not-ready (so it is connected, privileged and its store is up). Logs in as World::kProbe
// on the server's c2s port `c2s_port`, never as a scenario's user.
inline bool component_ready(std::uint16_t c2s_port, ComponentProcess& component,
                            const std::string& jid, std::chrono::milliseconds timeout,
                            std::string* why) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no attempt";
  std::unique_ptr<Party> probe;
  int round = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!component.alive()) {
      *why = "component exited:\n" + component.log();
      return false;
    }
    if (!probe) probe = Party::login(c2s_port, "probe@example.test", kPassword, "probe", &last);
    if (probe) {
      ++round;
      Answer info = probe->sends_iq(jid, "get", xml::Element("query", std::string(ns::kDiscoInfo)),
                                    "info-" + std::to_string(round), std::chrono::seconds(2));
      if (!info.arrived) {
        probe.reset();  // the server may have been restarting: log in again
        last = "disco#info: no answer";
      } else if (info.error) {
        last = "disco#info: " + info.describe();
      } else {
        Answer d = probe->sends_iq(jid, "set", proto::to_xml(proto::Disable{"never-enabled"}),
                                   "ready-" + std::to_string(round), std::chrono::seconds(2));
        if (d.arrived && d.app() != proto::AppCondition::kNotReady) return true;
        last = "disable: " + d.describe();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  *why = "component not ready (" + last + "):\n" + component.log();
  return false;
}

template <class Server>
class World {
 public:
  static constexpr const char* kProbe = "probe@example.test";

  // Null with `why` on failure; `*not_installed` tells whether the server is missing.
  static std::unique_ptr<World> start(WorldSpec spec, std::string* why, bool* not_installed) {
    *not_installed = false;
    std::unique_ptr<World> w(new World());
    w->spec_ = std::move(spec);
    typename ServerTraits<Server>::Options o;
    o.hosts = w->spec_.hosts;
    o.component_jid = w->spec_.component.component_jid;
    o.component_secret = w->spec_.component.secret;
    ServerTraits<Server>::with_module(o, w->spec_.ejabberd_module);
    w->server_ = Server::create(o, why);
    if (!w->server_) {
      *not_installed = !Server::find_executable().has_value();
      return nullptr;
    }
    w->spec_.users.push_back(kProbe);
    for (const auto& bare : w->spec_.users) {
      auto at = bare.find('@');
      w->server_->add_user(bare.substr(0, at), bare.substr(at + 1), kPassword);
    }
    for (const auto& r : w->spec_.roster)
      w->server_->add_roster_item(r.owner, r.contact, r.subscription);
    if (w->spec_.rpsync_gate && !ServerTraits<Server>::load_gate(*w->server_, why)) return nullptr;
    if (!w->server_->launch()) {
      *why = "server did not start:\n" + w->server_->log();
      return nullptr;
    }
    char tmpl[] = "/tmp/rpsync-scenario-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      *why = "mkdtemp failed";
      return nullptr;
    }
    w->dir_ = tmpl;
    ComponentSpec component = w->spec_.component;
    component.extra_args.insert(component.extra_args.end(),
                                {"--server-software", ServerTraits<Server>::kSoftware});
    w->component_ =
        std::make_unique<ComponentProcess>(w->dir_, w->server_->component_port(), component);
    if (!w->component_->start(why)) return nullptr;
    if (!w->component_ready(std::chrono::seconds(15), why)) return nullptr;
    return w;
  }

  ~World() {
    component_.reset();
    server_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  Server& server() { return *server_; }
  ComponentProcess& component() { return *component_; }
  const std::string& component_jid() const { return spec_.component.component_jid; }

  std::unique_ptr<Party> login(const std::string& bare, const std::string& resource,
                               std::string* why) {
    return Party::login(server_->c2s_port(), bare, kPassword, resource, why);
  }

  // Starts the component again on the same store and waits until it is ready.
  bool start_component_again(std::string* why) {
    if (!component_->start(why)) return false;
    return component_ready(std::chrono::seconds(15), why);
  }

  // Waits, bounded by `timeout`, until the component answers rpsync requests (see
  // component_ready() below).
  bool component_ready(std::chrono::milliseconds timeout, std::string* why) {
    return scenario::component_ready(server_->c2s_port(), *component_, component_jid(), timeout,
                                     why);
  }

 private:
  World() = default;
  WorldSpec spec_;
  std::unique_ptr<Server> server_;
  std::string dir_;
  std::unique_ptr<ComponentProcess> component_;
};

// Base fixture of every scenario (typed over Servers).
template <class Server>
class Scenario : public ::testing::Test {
 protected:
  std::unique_ptr<World<Server>> world;

  void start(WorldSpec spec) {
    std::string why;
    bool not_installed = false;
    world = World<Server>::start(std::move(spec), &why, &not_installed);
    if (!world) {
      if (not_installed) GTEST_SKIP() << ServerTraits<Server>::kName << ": " << why;
      FAIL() << why;
    }
  }

  const std::string& component() { return world->component_jid(); }

  // bare/resource logs in (fatal failure if it cannot).
  std::unique_ptr<Party> logs_in(const std::string& bare, const std::string& resource) {
    return scenario::logs_in(world->server().c2s_port(), bare, resource);
  }

  // bare/resource logs in, sends presence with `fields` and the server has processed it.
  std::unique_ptr<Party> comes_online(const std::string& bare, const std::string& resource,
                                      const proto::PresenceFields& fields = {}) {
    return scenario::comes_online(world->server().c2s_port(), bare, resource, fields);
  }

  // What a fresh full login of `bare` shows now: a new session, initial presence, the flood.
  Flood fresh_full_login(const std::string& bare) {
    return scenario::fresh_full_login(world->server().c2s_port(), bare,
                                      "fresh-" + std::to_string(++fresh_),
                                      ServerTraits<Server>::kFloodQuiet);
  }

  // `who` sends initial presence and collects the whole flood (server-specific settling).
  Flood flood_of(Party& who, const proto::PresenceFields& fields = {}) {
    return who.sends_presence_and_collects_flood(fields, ServerTraits<Server>::kFloodQuiet);
  }

  // The model a client holds after applying `delta` equals what a fresh full login shows.
  void expect_model_is_fresh_login(const proto::PresenceState& model, const std::string& bare) {
    Flood fresh = fresh_full_login(bare);
    EXPECT_EQ(model, fresh.state) << "model " << describe(model) << "\nfresh login "
                                  << describe(fresh.state);
    EXPECT_EQ(proto::digest_of(model), proto::digest_of(fresh.state));
  }

  // The component is still running and connected after whatever happened.
  void expect_component_alive() {
    EXPECT_TRUE(world->component().alive()) << world->component().log();
  }

  void report(const std::string& scenario, const std::string& figures) {
    std::printf("[scenario %s] %s: %s\n", ServerTraits<Server>::kName, scenario.c_str(),
                figures.c_str());
    std::fflush(stdout);
  }

 private:
  int fresh_ = 0;
};

// Starts the world or returns from the test (skipped or failed).
#define RPSYNC_SCENARIO_START(spec)                           \
  do {                                                        \
    this->start(spec);                                        \
    if (this->IsSkipped() || this->HasFatalFailure()) return; \
  } while (0)

// PresenceFields builders for readable scenarios.
inline proto::PresenceFields shows(proto::Show show, std::string status = {},
                                   std::int8_t priority = 0) {
  proto::PresenceFields f;
  f.show = show;
  f.status = std::move(status);
  f.priority = priority;
  return f;
}
inline proto::PresenceFields with_caps(proto::PresenceFields f, std::string ver) {
  f.caps = proto::Caps{"sha-1", "https://example.test/client", std::move(ver)};
  return f;
}

}  // namespace rpsync::test::scenario

namespace rpsync::test::scenario {

// a and b each hold the other with subscription both (what a completed handshake leaves).
inline void mutual(WorldSpec& spec, const std::string& a, const std::string& b) {
  spec.roster.push_back({a, b, Subscription::kBoth});
  spec.roster.push_back({b, a, Subscription::kBoth});
}

// `user` and `contacts` as users, each contact mutual with `user`.
inline WorldSpec user_with_contacts(const std::string& user,
                                    const std::vector<std::string>& contacts) {
  WorldSpec spec;
  spec.users.push_back(user);
  for (const auto& c : contacts) {
    spec.users.push_back(c);
    mutual(spec, user, c);
  }
  return spec;
}

}  // namespace rpsync::test::scenario

namespace rpsync::test::scenario {

// The <delta/> of a sync answer, or a message saying why there is none.
inline std::optional<proto::Delta> delta_of(const Answer& a, std::string* why) {
  if (!a.ok() || !a.payload) {
    *why = "no delta: " + a.describe();
    return std::nullopt;
  }
  auto d = proto::parse_delta(*a.payload);
  if (!d.ok()) {
    *why = "unreadable delta: " + d.error().text + " in " + xml::to_string(*a.payload);
    return std::nullopt;
  }
  return std::move(d).value();
}

// The answer is the spec's error for `app` (type and stanza condition from the table).
inline ::testing::AssertionResult is_error(const Answer& a, proto::AppCondition app) {
  if (!a.error) return ::testing::AssertionFailure() << "expected error, got " << a.describe();
  const proto::StanzaError want = proto::make_error(app);
  if (a.error->app != app || a.error->type != want.type || a.error->condition != want.condition)
    return ::testing::AssertionFailure()
           << "expected " << proto::to_string(want.condition) << "/" << proto::to_string(app)
           << " type " << proto::to_string(want.type) << ", got " << a.describe() << " type "
           << proto::to_string(a.error->type);
  return ::testing::AssertionSuccess();
}
// A plain stanza error (no rpsync condition) of this type and condition.
inline ::testing::AssertionResult is_error(const Answer& a, proto::ErrorType type,
                                           proto::Condition condition) {
  if (!a.error) return ::testing::AssertionFailure() << "expected error, got " << a.describe();
  if (a.error->type != type || a.error->condition != condition)
    return ::testing::AssertionFailure()
           << "expected " << proto::to_string(condition) << " type " << proto::to_string(type)
           << ", got " << a.describe() << " type " << proto::to_string(a.error->type);
  return ::testing::AssertionSuccess();
}

}  // namespace rpsync::test::scenario
