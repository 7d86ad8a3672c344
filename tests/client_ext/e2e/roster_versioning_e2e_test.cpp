// SPDX-License-Identifier: MIT
// Roster versioning (RFC 6121 §2.6) of rpsync::client::Client against a real Prosody 0.12
// (mod_roster versions rosters and advertises urn:xmpp:features:rosterver). Plain gloox
// clients, no rpsync component, no RpsyncManager: versioning stands on its own.
//
// alice has bob and kContacts contacts c0..cN, all subscription both. "alice/other" is a
// second gloox client of the same account that changes the roster while alice is away.
#include <gloox/connectionlistener.h>
#include <gloox/loghandler.h>
#include <gloox/rosteritem.h>
#include <gloox/rostermanager.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "client_ext/client.h"
#include "client_ext/roster_cache.h"
#include "client_ext/sqlite_roster_cache.h"
#include "client_ext/store.h"
#include "protocol/ns.h"
#include "protocol/xml.h"
#include "tests/client_ext/record_of.h"
#include "tests/client_ext/test_env.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::client {
namespace {

using std::chrono::milliseconds;
using testing::load_gate_into;
using testing::TempDir;
constexpr const char* kAlice = "alice@example.test";
constexpr int kContacts = 20;

// A gloox client with a roster cache, recording what it sends and what it receives.
class RosterClient final : public gloox::ConnectionListener,
                           public gloox::LogHandler,
                           public TagObserver {
 public:
  RosterClient(const std::string& full_jid, uint16_t port, RosterCache* cache)
      : client_(gloox::JID(full_jid), "pw", port) {
    client_.setServer("127.0.0.1");
    client_.setTls(gloox::TLSDisabled);
    client_.setCompression(false);
    client_.registerConnectionListener(this);
    client_.logInstance().registerLogHandler(gloox::LogLevelDebug, gloox::LogAreaXmlOutgoing, this);
    client_.set_tag_observer(this);
    client_.set_roster_cache(cache);
  }

  bool connect() {
    received.clear();
    outgoing.clear();
    bytes_at_connect = client_.bytes_received();
    return client_.connect(false);
  }
  bool pump(const std::function<bool()>& done, milliseconds timeout = milliseconds(10000)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      client_.recv(10'000);
    }
    return true;
  }
  void pump_for(milliseconds d) {
    pump([] { return false; }, d);
  }
  // Pumps until nothing arrived for `quiet` (at most `max`).
  void settle(milliseconds quiet = milliseconds(400), milliseconds max = milliseconds(10000)) {
    const auto end = std::chrono::steady_clock::now() + max;
    std::size_t last = client_.bytes_received();
    auto last_change = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < end &&
           std::chrono::steady_clock::now() - last_change < quiet) {
      client_.recv(10'000);
      if (client_.bytes_received() != last) {
        last = client_.bytes_received();
        last_change = std::chrono::steady_clock::now();
      }
    }
  }
  bool login() {
    return connect() && pump([&] { return connected; });
  }
  void logout() {
    client_.disconnect();
    pump([&] { return !connected; }, milliseconds(2000));
  }

  // The roster get this login sent, and the result as it came off the wire.
  std::string roster_get() const {
    for (const auto& s : outgoing)
      if (s.find("jabber:iq:roster") != std::string::npos &&
          s.find("type='get'") != std::string::npos)
        return s;
    return {};
  }
  std::string roster_result() const {
    const std::string get = roster_get();
    const auto at = get.find("id='");
    if (at == std::string::npos) return {};
    const std::string id = get.substr(at, get.find('\'', at + 4) + 1 - at);
    for (const auto& s : received)
      if (s.starts_with("<iq") && s.find(id) != std::string::npos) return s;
    return {};
  }
  bool sent(const std::string& needle) const {
    for (const auto& s : outgoing)
      if (s.find(needle) != std::string::npos) return true;
    return false;
  }
  std::size_t bytes_this_login() const { return client_.bytes_received() - bytes_at_connect; }
  bool sent_presence_after_roster() const {
    bool roster = false;
    for (const auto& s : outgoing) {
      if (s.find("jabber:iq:roster") != std::string::npos) roster = true;
      if (roster && s.starts_with("<presence")) return true;
    }
    return false;
  }
  bool received_presence_from(const std::string& bare) const {
    for (const auto& s : received)
      if (s.starts_with("<presence") && s.find("from='" + bare + "/") != std::string::npos)
        return true;
    return false;
  }

  void onConnect() override {
    connected = true;
    ++connects;
  }
  void onDisconnect(gloox::ConnectionError) override { connected = false; }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void handleLog(gloox::LogLevel, gloox::LogArea, const std::string& m) override {
    outgoing.push_back(m);
  }
  void observe_incoming(const gloox::Tag& tag) override { received.push_back(tag.xml()); }

  Client& client() { return client_; }

  bool connected = false;
  int connects = 0;
  std::vector<std::string> outgoing;
  std::vector<std::string> received;  // as received (before any substitution)
  std::size_t bytes_at_connect = 0;

 private:
  Client client_;
};

// What gloox's RosterManager holds, comparable with a cached roster.
using RosterView = std::map<std::string, std::tuple<std::string, int, std::vector<std::string>>>;

RosterView view_of(gloox::RosterManager& rm) {
  RosterView v;
  for (const auto& [jid, item] : *rm.roster()) {
    const gloox::StringList g = item->groups();
    v[jid] = {item->name(), static_cast<int>(item->subscription()), {g.begin(), g.end()}};
  }
  return v;
}

RosterView view_of(const CachedRoster& r) {
  RosterView v;
  for (const auto& i : r.items) {
    gloox::SubscriptionType s = gloox::S10nNone;
    if (i.subscription == "both") s = gloox::S10nBoth;
    if (i.subscription == "to") s = gloox::S10nTo;
    if (i.subscription == "from") s = i.ask.empty() ? gloox::S10nFrom : gloox::S10nFromOut;
    if (i.subscription == "none") s = i.ask.empty() ? gloox::S10nNone : gloox::S10nNoneOut;
    v[i.jid] = {i.name, static_cast<int>(s), i.groups};
  }
  return v;
}

std::string contact(int i) {
  return "c" + std::to_string(i) + "@example.test";
}

bool gate_handles_roster() {
  std::ifstream f(std::string(RPSYNC_GATE_PLUGIN_DIR) + "/mod_rpsync_gate.lua");
  std::stringstream s;
  s << f.rdbuf();
  return s.str().find("jabber:iq:roster") != std::string::npos;
}

std::unique_ptr<test::ProsodyServer> make_server(int contacts, bool gate, std::string* why) {
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, why);
  if (!server) return nullptr;
  server->add_user("alice", "example.test", "pw");
  server->add_user("bob", "example.test", "pw");
  server->add_roster_item(kAlice, "bob@example.test", test::Subscription::kBoth);
  server->add_roster_item("bob@example.test", kAlice, test::Subscription::kBoth);
  for (int i = 0; i < contacts; ++i) {
    server->add_user("c" + std::to_string(i), "example.test", "pw");
    server->add_roster_item(kAlice, contact(i), test::Subscription::kBoth);
  }
  if (gate && !load_gate_into(*server)) {
    *why = "no VirtualHost line to load mod_rpsync_gate into";
    return nullptr;
  }
  if (!server->launch()) {
    *why = "prosody did not start: " + server->log();
    return nullptr;
  }
  return server;
}

#define SERVER_OR_SKIP(var, contacts, gate)                                 \
  std::string var##_why;                                                    \
  auto var = make_server((contacts), (gate), &var##_why);                   \
  if (!var) {                                                               \
    if (!test::ProsodyServer::find_executable()) GTEST_SKIP() << var##_why; \
    FAIL() << var##_why;                                                    \
  }

// The server's roster of alice now, as a fresh client without a cache gets it.
RosterView server_roster(const test::ProsodyServer& server) {
  RosterClient fresh("alice@example.test/probe", server.c2s_port(), nullptr);
  EXPECT_TRUE(fresh.login());
  RosterView v = view_of(*fresh.client().rosterManager());
  fresh.logout();
  return v;
}

xml::Element roster_set(const std::string& id, const std::string& jid, const std::string& name,
                        const std::string& group, bool remove) {
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("id", id);
  xml::Element& item = iq.add(xml::Element("query", "jabber:iq:roster"))
                           .add(xml::Element("item", "jabber:iq:roster"));
  item.set_attr("jid", jid);
  if (remove) item.set_attr("subscription", "remove");
  if (!name.empty()) item.set_attr("name", name);
  if (!group.empty()) item.add(xml::Element("group", "jabber:iq:roster")).set_text(group);
  return iq;
}

// Changes alice's roster from another resource while alice is away: adds "new", removes
// c1, renames c2, and cancels alice's subscription to c3 (both -> from). The other
// resource is a raw client that never asked for the roster, so Prosody pushes nothing to
// it (pushes go to "interested" sessions only) and no session was given the intermediate
// versions. Returns once the server confirmed each change.
void change_roster_elsewhere(const test::ProsodyServer& server) {
  std::string why;
  auto other =
      test::TestClient::login(server.c2s_port(), "alice", "example.test", "pw", "other", &why);
  ASSERT_TRUE(other) << why;
  const std::vector<xml::Element> sets{
      roster_set("ch1", "new@example.test", "Newcomer", "Fresh", false),
      roster_set("ch2", contact(1), "", "", true),
      roster_set("ch3", contact(2), "Renamed", "", false)};
  for (const auto& iq : sets) {
    ASSERT_TRUE(other->send(iq));
    const std::string id(*iq.attr("id"));
    auto answer = other->wait_for(
        [&](const xml::Element& e) { return e.name() == "iq" && e.attr("id") == id; },
        milliseconds(3000));
    ASSERT_TRUE(answer) << id;
    ASSERT_TRUE(answer->attr("type") == "result") << xml::to_string(*answer);
  }
  xml::Element unsubscribe("presence", std::string(ns::kClient));
  unsubscribe.set_attr("type", "unsubscribe");
  unsubscribe.set_attr("to", contact(3));
  ASSERT_TRUE(other->send(unsubscribe));
  // Prosody handles an outbound unsubscribe without answering; a ping behind it returns
  // once it has been processed (one session's stanzas are handled in order).
  xml::Element ping("iq", std::string(ns::kClient));
  ping.set_attr("type", "get");
  ping.set_attr("id", "ping1");
  ping.set_attr("to", "example.test");
  ping.add(xml::Element("ping", "urn:xmpp:ping"));
  ASSERT_TRUE(other->send(ping));
  ASSERT_TRUE(other->wait_for(
      [](const xml::Element& e) { return e.name() == "iq" && e.attr("id") == "ping1"; },
      milliseconds(3000)));
  other->close();
}

// ---- unchanged roster --------------------------------------------------------------

TEST(RosterVersioningE2E, UnchangedRosterComesFromTheCache) {
  SERVER_OR_SKIP(server, kContacts, false);
  std::string why;
  auto bob =
      test::TestClient::login(server->c2s_port(), "bob", "example.test", "pw", "phone", &why);
  ASSERT_TRUE(bob) << why;
  ASSERT_TRUE(bob->send_presence("away", "lunch"));

  TempDir dir;
  SqliteDatabase database(dir.file("state.db"));
  SqliteRosterCache store(database);
  std::size_t first_result_bytes = 0;
  {
    RosterClient alice("alice@example.test/laptop", server->c2s_port(), &store);
    ASSERT_TRUE(alice.login());
    EXPECT_TRUE(alice.client().server_supports_roster_versioning());
    EXPECT_EQ(alice.client().roster_request_kind(), RosterRequestKind::kBootstrap);
    EXPECT_NE(alice.roster_get().find("ver=''"), std::string::npos) << alice.roster_get();
    EXPECT_FALSE(alice.client().roster_from_cache());
    first_result_bytes = alice.client().roster_stats().result_bytes;
    const RosterLoadResult saved = store.load(kAlice);
    ASSERT_TRUE(record_of(saved)) << saved.status().message();
    EXPECT_EQ(record_of(saved)->items.size(), static_cast<std::size_t>(kContacts + 1));
    EXPECT_FALSE(record_of(saved)->ver.empty());
    alice.logout();
  }

  // A new client object (an application restart) with the same state file.
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), &store);
  ASSERT_TRUE(alice.login());
  ASSERT_TRUE(alice.pump([&] { return alice.received_presence_from("bob@example.test"); }))
      << "contacts' presence must still arrive";
  EXPECT_TRUE(alice.client().roster_versioned_get());
  const std::string get = alice.roster_get();
  EXPECT_NE(get.find("ver='" + record_of(store.load(kAlice))->ver + "'"), std::string::npos) << get;
  // On the wire: an empty result, no items.
  const std::string result = alice.roster_result();
  ASSERT_FALSE(result.empty());
  EXPECT_EQ(result.find("<item"), std::string::npos) << result;
  EXPECT_EQ(result.find("<query"), std::string::npos) << result;
  EXPECT_LT(alice.client().roster_stats().result_bytes, 200u);
  EXPECT_LT(alice.client().roster_stats().result_bytes, first_result_bytes / 5);
  EXPECT_TRUE(alice.client().roster_from_cache());
  // gloox's roster is the cached one, complete.
  const RosterView gloox_roster = view_of(*alice.client().rosterManager());
  EXPECT_EQ(gloox_roster.size(), static_cast<std::size_t>(kContacts + 1));
  EXPECT_EQ(gloox_roster, view_of(*record_of(store.load(kAlice))));
  EXPECT_EQ(gloox_roster, server_roster(*server));
  EXPECT_TRUE(alice.sent_presence_after_roster());
  gloox::RosterItem* b =
      alice.client().rosterManager()->getRosterItem(gloox::JID("bob@example.test"));
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->online()) << "gloox's RosterManager must route bob's presence to his item";
}

// ---- changed while away, plain Prosody: full roster ------------------------------------

TEST(RosterVersioningE2E, RosterChangedWhileAwayIsFetchedInFull) {
  SERVER_OR_SKIP(server, kContacts, false);
  MemoryRosterCache cache;
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), &cache);
  ASSERT_TRUE(alice.login());
  const std::string old_ver = record_of(cache.load(kAlice))->ver;
  alice.logout();

  change_roster_elsewhere(*server);

  ASSERT_TRUE(alice.login());
  EXPECT_TRUE(alice.client().roster_versioned_get());
  EXPECT_NE(alice.roster_get().find("ver='" + old_ver + "'"), std::string::npos);
  EXPECT_FALSE(alice.client().roster_from_cache());
  EXPECT_NE(alice.roster_result().find("<item"), std::string::npos) << "a stale ver: full roster";
  const RosterLoadResult cached = cache.load(kAlice);
  ASSERT_TRUE(record_of(cached));
  EXPECT_NE(record_of(cached)->ver, old_ver);
  const RosterView truth = server_roster(*server);
  EXPECT_EQ(view_of(*record_of(cached)), truth);
  EXPECT_EQ(view_of(*alice.client().rosterManager()), truth);
  EXPECT_EQ(truth.count(contact(1)), 0u);
  EXPECT_EQ(std::get<0>(truth.at("new@example.test")), "Newcomer");
  EXPECT_EQ(std::get<0>(truth.at(contact(2))), "Renamed");
  EXPECT_EQ(std::get<1>(truth.at(contact(3))), static_cast<int>(gloox::S10nFrom));
}

// ---- changed while away, server sending only the changes (mod_rpsync_gate) -------------

TEST(RosterVersioningE2E, RosterChangedWhileAwayArrivesAsPushesFromTheGate) {
  if (!gate_handles_roster()) {
    GTEST_SKIP() << "plugin/prosody/mod_rpsync_gate.lua has no incremental roster mode yet "
                    "(it does not mention jabber:iq:roster)";
  }
  SERVER_OR_SKIP(server, kContacts, true);
  MemoryRosterCache cache;
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), &cache);
  ASSERT_TRUE(alice.login());
  alice.logout();

  change_roster_elsewhere(*server);

  ASSERT_TRUE(alice.login());
  alice.settle();
  ASSERT_TRUE(alice.client().roster_versioned_get());
  if (!alice.client().roster_from_cache()) {
    GTEST_SKIP() << "mod_rpsync_gate answered the stale ver with the full roster (its "
                    "incremental mode is off or does not know this version); result: "
                 << alice.roster_result().substr(0, 300);
  }
  EXPECT_EQ(alice.roster_result().find("<item"), std::string::npos);
  EXPECT_GE(alice.client().roster_stats().pushes, 4u) << "one push per change";
  EXPECT_LT(alice.client().roster_stats().pushes, static_cast<std::size_t>(kContacts))
      << "only the changes";
  const RosterView truth = server_roster(*server);
  const RosterLoadResult cached = cache.load(kAlice);
  ASSERT_TRUE(record_of(cached));
  EXPECT_EQ(view_of(*record_of(cached)), truth);
  EXPECT_EQ(view_of(*alice.client().rosterManager()), truth);
  alice.logout();

  // The version of the last push names the current roster: the next login is "unchanged".
  ASSERT_TRUE(alice.login());
  EXPECT_TRUE(alice.client().roster_from_cache());
  EXPECT_EQ(alice.client().roster_stats().pushes, 0u);
  EXPECT_EQ(view_of(*alice.client().rosterManager()), truth);
}

// ---- corrupt cache -------------------------------------------------------------------

TEST(RosterVersioningE2E, CorruptCacheIsDiscardedAndRewritten) {
  SERVER_OR_SKIP(server, kContacts, false);
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    SqliteDatabase database(path);
    SqliteRosterCache store(database);
    RosterClient alice("alice@example.test/laptop", server->c2s_port(), &store);
    ASSERT_TRUE(alice.login());
    alice.logout();
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE rpsync_roster_item SET name = 'Tampered'"
                           " WHERE jid = 'c5@example.test'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  SqliteDatabase database(path);
  SqliteRosterCache store(database);
  ASSERT_EQ(store.load(kAlice).status().code(), StatusCode::kCorrupt);
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), &store);
  ASSERT_TRUE(alice.login());
  EXPECT_EQ(alice.client().roster_stats().load_status.code(), StatusCode::kCorrupt);
  EXPECT_EQ(alice.client().roster_request_kind(), RosterRequestKind::kBootstrap);
  EXPECT_NE(alice.roster_get().find("ver=''"), std::string::npos) << alice.roster_get();
  EXPECT_FALSE(alice.client().roster_from_cache());
  const RosterLoadResult rewritten = store.load(kAlice);
  ASSERT_TRUE(rewritten.ok()) << rewritten.status().message();
  ASSERT_TRUE(record_of(rewritten));
  const RosterView truth = server_roster(*server);
  EXPECT_EQ(view_of(*record_of(rewritten)), truth);
  EXPECT_EQ(std::get<0>(truth.at(contact(5))), "");
  EXPECT_EQ(view_of(*alice.client().rosterManager()), truth);
}

// ---- no cache: exactly gloox's plain get ---------------------------------------------

TEST(RosterVersioningE2E, WithoutCacheTheGetCarriesNoVer) {
  SERVER_OR_SKIP(server, kContacts, false);
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), nullptr);
  ASSERT_TRUE(alice.login());
  EXPECT_EQ(alice.client().roster_request_kind(), RosterRequestKind::kPlain);
  const std::string get = alice.roster_get();
  EXPECT_NE(get.find("<query xmlns='jabber:iq:roster'/>"), std::string::npos) << get;
  EXPECT_EQ(alice.client().rosterManager()->roster()->size(),
            static_cast<std::size_t>(kContacts + 1));
  EXPECT_EQ(alice.client().cached_roster(), nullptr);
  EXPECT_TRUE(alice.sent("roster:delimiter")) << "plain gloox asks for the XEP-0083 delimiter";
}

// With a roster cache the XEP-0083 delimiter get (an error from a Prosody without
// mod_private on every login) is left out; gloox's roster is complete without it.
TEST(RosterVersioningE2E, WithCacheNoDelimiterGet) {
  SERVER_OR_SKIP(server, kContacts, false);
  MemoryRosterCache cache;
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), &cache);
  ASSERT_TRUE(alice.login());
  EXPECT_FALSE(alice.sent("roster:delimiter"));
  EXPECT_EQ(alice.client().rosterManager()->roster()->size(),
            static_cast<std::size_t>(kContacts + 1));
  EXPECT_EQ(alice.client().rosterManager()->delimiter(), "");
  alice.logout();
  ASSERT_TRUE(alice.login());
  EXPECT_TRUE(alice.client().roster_from_cache());
  EXPECT_FALSE(alice.sent("roster:delimiter"));
  EXPECT_EQ(alice.client().rosterManager()->roster()->size(),
            static_cast<std::size_t>(kContacts + 1));
}

// ---- pushes while online ------------------------------------------------------------

TEST(RosterVersioningE2E, PushesWhileOnlineUpdateTheCache) {
  SERVER_OR_SKIP(server, kContacts, false);
  TempDir dir;
  SqliteDatabase database(dir.file("state.db"));
  SqliteRosterCache store(database);
  RosterClient alice("alice@example.test/laptop", server->c2s_port(), &store);
  ASSERT_TRUE(alice.login());
  const std::string ver0 = record_of(store.load(kAlice))->ver;

  // alice/other changes the roster while alice is online: alice gets the pushes.
  {
    RosterClient other("alice@example.test/other", server->c2s_port(), nullptr);
    ASSERT_TRUE(other.login());
    gloox::RosterManager& rm = *other.client().rosterManager();
    rm.add(gloox::JID("new@example.test"), "Newcomer", {"Fresh"});
    rm.remove(gloox::JID(contact(1)));
    ASSERT_TRUE(alice.pump([&] {
      other.client().recv(1000);
      const CachedRoster* c = alice.client().cached_roster();
      return c != nullptr && c->items.size() == static_cast<std::size_t>(kContacts + 1) &&
             alice.client().roster_stats().pushes >= 2;
    })) << server->log();
    other.logout();
  }
  const RosterView truth = server_roster(*server);
  const RosterLoadResult stored = store.load(kAlice);
  ASSERT_TRUE(record_of(stored));
  EXPECT_NE(record_of(stored)->ver, ver0);
  EXPECT_EQ(view_of(*record_of(stored)), truth);
  EXPECT_EQ(view_of(*alice.client().rosterManager()), truth);
  alice.logout();

  // The cached version is current: the next login gets an empty result.
  ASSERT_TRUE(alice.login());
  EXPECT_TRUE(alice.client().roster_from_cache());
  EXPECT_EQ(alice.roster_result().find("<item"), std::string::npos);
  EXPECT_EQ(view_of(*alice.client().rosterManager()), truth);
}

// ---- figures: 500 contacts -----------------------------------------------------------

TEST(RosterVersioningFigures, LoginWith500Contacts) {
  constexpr int kMany = 500;
  SERVER_OR_SKIP(server, kMany, false);
  MemoryRosterCache cache;
  struct Figures {
    std::size_t roster = 0, total = 0;
  };
  auto measure = [&](RosterCache* c) {
    RosterClient alice("alice@example.test/laptop", server->c2s_port(), c);
    EXPECT_TRUE(alice.login());
    alice.settle();
    Figures f{alice.client().roster_stats().result_bytes, alice.bytes_this_login()};
    EXPECT_EQ(alice.client().rosterManager()->roster()->size(),
              static_cast<std::size_t>(kMany + 1));
    alice.logout();
    return f;
  };
  const Figures plain = measure(nullptr);
  const Figures bootstrap = measure(&cache);
  const Figures cached = measure(&cache);
  std::printf(
      "roster versioning, alice with %d contacts (offline), Prosody 0.12, bytes received "
      "from connect to settled:\n"
      "  no roster cache (plain gloox):  roster result %zu, total %zu\n"
      "  cache empty (ver=''):           roster result %zu, total %zu\n"
      "  cache valid, roster unchanged:  roster result %zu, total %zu\n",
      kMany + 1, plain.roster, plain.total, bootstrap.roster, bootstrap.total, cached.roster,
      cached.total);
  EXPECT_LT(cached.roster * 50, plain.roster);
  EXPECT_LT(cached.total + plain.roster / 2, plain.total);
}

}  // namespace
}  // namespace rpsync::client
