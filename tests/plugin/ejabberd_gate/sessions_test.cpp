// SPDX-License-Identifier: MIT
// mod_rpsync_gate's session reports on a real ejabberd 23.01, seen from a raw component
// socket (the component JID is in the module's `components` and holds mod_privilege's
// presence permission):
//  * a session that ends is reported as unavailable, whoever is online (no contact online
//    here, so ejabberd itself forwards nothing), including an abrupt TCP drop, a kick and a
//    replacement by a new session with the same resource (reported before the new
//    session's presence, and not again after it);
//  * a component that connects gets the current presence of every available local session,
//    with <delay/>, then <sessions-sent/> from the host;
//  * directed presence from a client to the component is not delivered.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "protocol/ns.h"
#include "tests/plugin/ejabberd_gate/ej_world.h"

namespace rpsync::test::ejgate {
namespace {

using namespace std::chrono_literals;

#define START_WORLD_OR_SKIP(var, options)                           \
  std::string var##_why;                                            \
  bool var##_missing = false;                                       \
  auto var = EjWorld::start((options), &var##_why, &var##_missing); \
  if (!var) {                                                       \
    if (var##_missing) GTEST_SKIP() << var##_why;                   \
    FAIL() << var##_why;                                            \
  }

#define LOGIN_OR_FAIL(var, world, user, resource)            \
  std::string var##_why;                                     \
  auto var = (world)->login((user), (resource), &var##_why); \
  ASSERT_TRUE(var) << var##_why

WorldOptions nobody_online(bool load_gate = true) {
  WorldOptions o;
  o.online_contacts = 0;
  o.offline_contacts = 2;
  o.load_gate = load_gate;
  return o;
}

bool is_sessions_sent(const xml::Element& s) {
  return s.name() == "message" && s.attr("from") == kHost && s.child("sessions-sent", ns::kRpsync);
}

// Connects the component and reads up to and including <sessions-sent/> (with the gate)
// or the privilege advertisement (without); returns everything read before it.
std::vector<xml::Element> connect_component(EjWorld& w, std::unique_ptr<RawComponent>* out,
                                            bool gate = true) {
  std::string why;
  *out = RawComponent::connect(w.server().component_port(), kComponent,
                               w.server().options().component_secret, &why);
  std::vector<xml::Element> before;
  if (!*out) {
    ADD_FAILURE() << why;
    return before;
  }
  for (int i = 0; i < 10000; ++i) {
    auto s = (*out)->next(kTimeout);
    if (!s) {
      ADD_FAILURE() << "component stream: no " << (gate ? "sessions-sent" : "privilege message");
      break;
    }
    if (gate ? is_sessions_sent(*s) : s->name() == "message") break;
    before.push_back(std::move(*s));
  }
  return before;
}

// Next presence the component receives from `from_prefix`, skipping anything else.
std::optional<xml::Element> next_presence_from(RawComponent& c, std::string_view from_prefix,
                                               std::chrono::milliseconds timeout = kTimeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 10000; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto s = c.next(left);
    if (!s) break;
    if (is_presence_from(*s, from_prefix)) return s;
  }
  return std::nullopt;
}

bool is_unavailable(const std::optional<xml::Element>& p) {
  return p && p->attr("type") == "unavailable";
}

TEST(EjabberdGateSessions, AbruptDropWithNoContactOnlineIsReported) {
  START_WORLD_OR_SKIP(w, nobody_online());
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  ASSERT_TRUE(alice->send(presence(true, "away")));
  auto on = next_presence_from(*comp, alice->jid());
  ASSERT_TRUE(on) << "mod_privilege did not forward alice's presence";
  EXPECT_FALSE(on->attr("type").has_value());
  EXPECT_FALSE(has_marker(*on)) << "marker reached the component: " << xml::to_string(*on);

  alice->abort();
  auto off = next_presence_from(*comp, alice->jid());
  ASSERT_TRUE(is_unavailable(off)) << "the abrupt end of alice's session was not reported";
  EXPECT_EQ(off->attr("to").value_or(""), kComponent);
}

TEST(EjabberdGateSessions, GracefulCloseIsReported) {
  START_WORLD_OR_SKIP(w, nobody_online());
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  ASSERT_TRUE(alice->send(presence(false)));
  ASSERT_TRUE(next_presence_from(*comp, alice->jid()));
  alice->close();
  EXPECT_TRUE(is_unavailable(next_presence_from(*comp, alice->jid())));
}

TEST(EjabberdGateSessions, KickedSessionIsReported) {
  START_WORLD_OR_SKIP(w, nobody_online());
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  ASSERT_TRUE(alice->send(presence(false)));
  ASSERT_TRUE(next_presence_from(*comp, alice->jid()));
  std::string err;
  ASSERT_TRUE(w->server().api(
      "kick_session",
      R"({"user":"alice","host":"example.test","resource":"phone","reason":"test"})", &err))
      << err;
  EXPECT_TRUE(is_unavailable(next_presence_from(*comp, alice->jid())));
}

// XEP-0198: a dropped session stays available (hibernated) until resume_timeout; its end
// is reported when ejabberd ends it.
TEST(EjabberdGateSessions, HibernatedSessionIsReportedWhenItTimesOut) {
  WorldOptions o = nobody_online();
  o.resume_timeout_s = 2;
  START_WORLD_OR_SKIP(w, o);
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  ASSERT_TRUE(alice->send_raw("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"));
  ASSERT_TRUE(alice->take([](const xml::Element& e) { return e.name() == "enabled"; }))
      << "stream management not enabled";
  ASSERT_TRUE(alice->send(presence(false)));
  ASSERT_TRUE(next_presence_from(*comp, alice->jid()));
  const auto dropped = std::chrono::steady_clock::now();
  alice->abort();
  auto off = next_presence_from(*comp, alice->jid(), 10s);
  const double after =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - dropped).count();
  ASSERT_TRUE(is_unavailable(off)) << "the hibernated session's end was not reported";
  EXPECT_GE(after, 1.5) << "reported before the resume timeout: the session was not hibernated";
  std::printf("hibernated session reported %.2f s after the drop (resume_timeout 2 s)\n", after);
}

// Resumes the XEP-0198 session `previd` of alice on a new connection (SASL PLAIN, then
// <resume/> instead of a bind); the socket, or null with `why`.
std::unique_ptr<XmlSocket> resume_alice(EjWorld& w, const std::string& previd, std::string* why) {
  auto socket = XmlSocket::connect(w.server().c2s_port(), /*nodelay=*/true, why);
  if (!socket) return nullptr;
  auto open = [&] {
    socket->restart_stream();
    return socket->send(
               "<?xml version='1.0'?><stream:stream to='example.test' "
               "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
               "version='1.0'>") &&
           socket->wait_for([](const xml::Element& e) { return e.is("features", ns::kStreams); },
                            kTimeout);
  };
  const std::string plain = std::string(1, '\0') + "alice" + std::string(1, '\0') + kPassword;
  std::string b64(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  b64.resize(static_cast<std::size_t>(n));
  if (!open() ||
      !socket->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64 +
                    "</auth>") ||
      !socket->wait_for([](const xml::Element& e) { return e.name() == "success"; }, kTimeout) ||
      !open() ||
      !socket->send("<resume xmlns='urn:xmpp:sm:3' h='0' previd='" + xml::escape(previd) + "'/>")) {
    *why = "login for the resume failed";
    return nullptr;
  }
  auto resumed = socket->wait_for(
      [](const xml::Element& e) { return e.name() == "resumed" || e.name() == "failed"; },
      kTimeout);
  if (!resumed || resumed->name() != "resumed") {
    *why = "not resumed: " + (resumed ? xml::to_string(*resumed) : std::string("timeout"));
    return nullptr;
  }
  return socket;
}

// The resumed session is the same session: the component hears no unavailable for it.
TEST(EjabberdGateSessions, ResumedSessionIsNotReported) {
  START_WORLD_OR_SKIP(w, nobody_online());
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  const std::string jid = alice->jid();
  ASSERT_TRUE(alice->send_raw("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"));
  auto enabled = alice->take([](const xml::Element& e) { return e.name() == "enabled"; });
  ASSERT_TRUE(enabled && enabled->attr("id")) << "stream management not enabled";
  ASSERT_TRUE(alice->send(presence(false, "", "before")));
  ASSERT_TRUE(next_presence_from(*comp, jid));
  alice->abort();
  std::string why;
  auto resumed = resume_alice(*w, std::string(*enabled->attr("id")), &why);
  ASSERT_TRUE(resumed) << why;
  auto none = next_presence_from(*comp, jid, 1500ms);
  EXPECT_FALSE(none) << "reported on resume: " << xml::to_string(*none);
  ASSERT_TRUE(resumed->send("<presence><status>after</status></presence>"));
  auto next = next_presence_from(*comp, jid);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->child_text("status").value_or(""), "after") << xml::to_string(*next);
}

// The same full JID logs in again while the old session is still there: the component
// hears that the old one is gone before anything from the new one, and never again after.
TEST(EjabberdGateSessions, SameResourceReloginReportsTheOldSessionFirst) {
  START_WORLD_OR_SKIP(w, nobody_online());
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(old, w, "alice", "phone");
  ASSERT_TRUE(old->send(presence(false, "dnd", "old")));
  ASSERT_TRUE(next_presence_from(*comp, old->jid()));

  LOGIN_OR_FAIL(fresh, w, "alice", "phone");  // replaces `old`; sends no presence yet
  auto first = next_presence_from(*comp, fresh->jid());
  ASSERT_TRUE(is_unavailable(first)) << "the replaced session was not reported";

  ASSERT_TRUE(fresh->send(presence(false, "chat", "new")));
  auto on = next_presence_from(*comp, fresh->jid());
  ASSERT_TRUE(on);
  EXPECT_FALSE(on->attr("type").has_value()) << xml::to_string(*on);
  EXPECT_EQ(on->child_text("status").value_or(""), "new");
  // Nothing from the old session may follow the new one's presence.
  auto late = next_presence_from(*comp, fresh->jid(), 700ms);
  EXPECT_FALSE(late) << "late presence after the new session's: " << xml::to_string(*late);
}

TEST(EjabberdGateSessions, ComponentConnectGetsCurrentPresenceThenSessionsSent) {
  WorldOptions o;
  o.online_contacts = 3;
  o.offline_contacts = 1;
  START_WORLD_OR_SKIP(w, o);
  LOGIN_OR_FAIL(alice, w, "alice", "synced");
  ASSERT_TRUE(alice->send(presence(true, "xa", "resent")));
  ASSERT_TRUE(w->barrier(*alice).complete);
  LOGIN_OR_FAIL(silent, w, "alice", "silent");  // bound, never available: not re-sent
  LOGIN_OR_FAIL(gone, w, "alice", "gone");
  ASSERT_TRUE(gone->send(presence(false)));
  ASSERT_TRUE(gone->send(unavailable()));
  ASSERT_TRUE(w->barrier(*gone).complete);

  for (int round = 0; round < 2; ++round) {  // first connect, then a reconnect
    std::unique_ptr<RawComponent> comp;
    auto before = connect_component(*w, &comp);
    ASSERT_TRUE(comp);
    ASSERT_FALSE(before.empty());
    EXPECT_EQ(before.front().name(), "message") << "the privilege advertisement comes first";
    std::vector<std::string> from;
    for (const auto& s : before) {
      if (s.name() != "presence") continue;
      from.push_back(std::string(s.attr("from").value_or("")));
      const xml::Element* delay = s.child("delay", ns::kDelay);
      ASSERT_TRUE(delay) << "no delay: " << xml::to_string(s);
      EXPECT_EQ(delay->attr("from").value_or(""), kHost);
      EXPECT_TRUE(delay->attr("stamp").has_value());
      EXPECT_FALSE(has_marker(s)) << xml::to_string(s);
      EXPECT_FALSE(s.attr("type").has_value()) << xml::to_string(s);
      if (s.attr("from") == alice->jid()) EXPECT_EQ(s.child_text("status").value_or(""), "resent");
    }
    std::sort(from.begin(), from.end());
    EXPECT_EQ(from, (std::vector<std::string>{alice->jid(), "c0@example.test/r",
                                              "c1@example.test/r", "c2@example.test/r"}))
        << "round " << round;
    comp->abort();
    std::this_thread::sleep_for(200ms);  // ejabberd unregisters the route
  }
}

TEST(EjabberdGateSessions, DirectedPresenceToTheComponentIsNotDelivered) {
  START_WORLD_OR_SKIP(w, nobody_online());
  std::unique_ptr<RawComponent> comp;
  connect_component(*w, &comp);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  ASSERT_TRUE(alice->send(presence(false, "", "broadcast 1")));
  ASSERT_TRUE(next_presence_from(*comp, alice->jid()));
  for (const char* to : {kComponent, "someone@rpsync.example.test"}) {
    xml::Element directed = presence(false, "dnd", "directed");
    directed.set_attr("to", to);
    ASSERT_TRUE(alice->send(directed));
    xml::Element gone = unavailable();
    gone.set_attr("to", to);
    ASSERT_TRUE(alice->send(gone));
  }
  // Routed by alice's session after the directed ones: it would arrive after them.
  ASSERT_TRUE(alice->send(presence(false, "", "broadcast 2")));
  auto next = next_presence_from(*comp, alice->jid());
  ASSERT_TRUE(next);
  EXPECT_EQ(next->child_text("status").value_or(""), "broadcast 2")
      << "directed presence reached the component: " << xml::to_string(*next);
}

// Control: without the module ejabberd tells the component nothing when a session with
// no contact online drops, and re-sends nothing when the component connects.
TEST(EjabberdGateSessions, WithoutTheModuleNothingIsReported) {
  START_WORLD_OR_SKIP(w, nobody_online(false));
  LOGIN_OR_FAIL(early, w, "alice", "early");
  ASSERT_TRUE(early->send(presence(false)));
  ASSERT_TRUE(w->barrier(*early).complete);
  std::unique_ptr<RawComponent> comp;
  auto before = connect_component(*w, &comp, /*gate=*/false);
  ASSERT_TRUE(comp);
  LOGIN_OR_FAIL(alice, w, "alice", "phone");
  ASSERT_TRUE(alice->send(presence(false)));
  auto first = next_presence_from(*comp, "alice@");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->attr("from"), alice->jid()) << "early's presence was re-sent without the module";
  alice->abort();
  EXPECT_FALSE(next_presence_from(*comp, alice->jid(), 1500ms));
}

}  // namespace
}  // namespace rpsync::test::ejgate
