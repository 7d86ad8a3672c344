// SPDX-License-Identifier: MIT
// The roster cache: RosterCache on its own, and the service's versioned roster
// gets played against the fake transport with the contract of mod_rpsync_gate: ver='' until
// a full answer gave a version, then that version; an empty result means unchanged; a full
// answer with a version replaces the entry, one without drops it; errors, surprises,
// disconnects and privilege changes drop entries and fall back to a plain get.
#include "plugin/service/roster_cache.h"

#include <gtest/gtest.h>

#include "protocol/delta.h"
#include "protocol/session.h"
#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the fixture

RosterCache::Entry entry(std::string ver, std::vector<std::string> visible) {
  return {std::move(ver), std::make_shared<const std::vector<std::string>>(std::move(visible))};
}

TEST(RosterCache, EvictsLeastRecentlyUsedToStayWithinItsContactBudget) {
  RosterCache cache(10);                                     // each user costs its contacts + 1
  EXPECT_TRUE(cache.put("a", entry("1", {"x", "y", "z"})));  // 4
  EXPECT_TRUE(cache.put("b", entry("1", {"x", "y"})));       // 3
  EXPECT_TRUE(cache.put("c", entry("1", {"x"})));            // 2
  EXPECT_EQ(cache.contacts(), 9u);
  ASSERT_TRUE(cache.find("a"));                         // a is now the most recently used
  EXPECT_TRUE(cache.put("d", entry("1", {"x", "y"})));  // 3 more: b (least recent) goes
  EXPECT_FALSE(cache.find("b"));
  EXPECT_TRUE(cache.find("a"));
  EXPECT_TRUE(cache.find("c"));
  EXPECT_TRUE(cache.find("d"));
  EXPECT_LE(cache.contacts(), 10u);
  EXPECT_EQ(cache.users(), 3u);
}

TEST(RosterCache, ReplacesAnEntryAndKeepsNoRosterLargerThanTheBudget) {
  RosterCache cache(4);
  EXPECT_TRUE(cache.put("a", entry("1", {"x"})));
  EXPECT_TRUE(cache.put("a", entry("2", {"x", "y"})));
  EXPECT_EQ(cache.find("a")->ver, "2");
  EXPECT_EQ(cache.contacts(), 3u);
  EXPECT_FALSE(cache.put("a", entry("3", {"1", "2", "3", "4"})));
  EXPECT_FALSE(cache.find("a")) << "a replaced entry that cannot be kept is gone, not stale";
  EXPECT_EQ(cache.contacts(), 0u);
}

TEST(RosterCache, DisabledKeepsNothingAndAnEvictedListLivesOnForItsHolder) {
  RosterCache off(0);
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.put("a", entry("1", {})));
  EXPECT_FALSE(off.find("a"));

  RosterCache cache(2);
  ASSERT_TRUE(cache.put("a", entry("1", {"x"})));
  RosterCache::Visible held = cache.find("a")->visible;
  ASSERT_TRUE(cache.put("b", entry("1", {"y"})));  // evicts a
  EXPECT_FALSE(cache.find("a"));
  EXPECT_EQ(*held, std::vector<std::string>{"x"});
}

// alice/phone repeats enable then checkpoints; bob/laptop and carol/pc are online.
class RosterVersioning : public ServiceTest {
 protected:
  explicit RosterVersioning(std::size_t cache = ServiceConfig{}.roster_cache_contacts)
      : ServiceTest(false, cache) {
    presence("bob@example.test/laptop");
    presence("carol@other.test/pc");
  }

  static constexpr const char* kAlice = "alice@example.test/phone";

  // alice's next request: the first is an enable, then checkpoints, each quoting the one
  // before. A minute apart, so the rate limit never interferes.
  void alice_requests() {
    now_ms += 61'000;
    ++n_;
    const std::string id = "r" + std::to_string(n_);
    if (n_ == 1) {
      iq(kAlice, id, "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    } else {
      iq(kAlice, id,
         "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='r" + std::to_string(n_ - 1) +
             "'/>");
    }
  }
  // The resource count in the answer to alice's last request: the roster it was computed
  // with shows bob and carol (2), bob only (1), ...; -1 for an error, -2 for no answer.
  int answered_count() {
    if (transport.sent.empty()) return -2;
    auto r = transport.take();
    if (r.attr("type") != "result") return -1;
    const xml::Element* c = rpsync_child(r);
    if (!c) return -1;
    if (c->name() == "enabled") return static_cast<int>(proto::parse_enabled(*c)->state.count());
    return static_cast<int>(proto::parse_checkpointed(*c)->state.count());
  }
  const Counters& counters() const { return service->counters(); }

  using Items = std::vector<std::pair<std::string, std::string>>;
  const Items both{{"bob@example.test", "both"}, {"carol@other.test", "to"}};
  const Items bob_only{{"bob@example.test", "both"}, {"carol@other.test", "none"}};
  int n_ = 0;
};

TEST_F(RosterVersioning, UnversionedAnswersAreNeverCachedAndOnlyTheEmptyVersionIsQuoted) {
  for (int i = 0; i < 3; ++i) {
    alice_requests();
    EXPECT_EQ(transport.quoted_ver(), "") << "request " << i << ": versioning, nothing held";
    transport.answer_roster(both);
    EXPECT_EQ(answered_count(), 2);
  }
  EXPECT_EQ(counters().roster_cache_misses, 3u);
  EXPECT_EQ(counters().roster_cache_hits, 0u);
  EXPECT_EQ(service->roster_cache().users(), 0u);
}

TEST_F(RosterVersioning, AVersionIsQuotedOnlyOnceAnAnswerGaveOneAndUnchangedUsesTheCache) {
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
  transport.answer_roster(both, "v1");
  EXPECT_EQ(answered_count(), 2);
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "v1");
  transport.answer_roster_unchanged();
  EXPECT_EQ(answered_count(), 2) << "the cached roster shows bob and carol";
  EXPECT_EQ(counters().roster_cache_hits, 1u);
  EXPECT_EQ(counters().roster_cache_misses, 1u);
}

TEST_F(RosterVersioning, AFullAnswerWithANewVersionReplacesTheEntry) {
  alice_requests();
  transport.answer_roster(both, "v1");
  EXPECT_EQ(answered_count(), 2);
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "v1");
  transport.answer_roster(bob_only, "v2");  // carol's subscription ended
  EXPECT_EQ(answered_count(), 1);
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "v2");
  transport.answer_roster_unchanged();
  EXPECT_EQ(answered_count(), 1) << "unchanged since v2: bob only, not v1's roster";
}

TEST_F(RosterVersioning, AFullAnswerWithoutAVersionDropsTheEntry) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  transport.answer_roster(bob_only);  // the server stopped versioning
  EXPECT_EQ(answered_count(), 1);
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
  EXPECT_EQ(service->roster_cache().users(), 0u);
}

TEST_F(RosterVersioning, AnErrorToAVersionedGetFetchesInFullOnce) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  transport.fail_roster(
      {proto::ErrorType::kCancel, Condition::kBadRequest, AppCondition::kNone, "no such version"});
  EXPECT_TRUE(transport.sent.empty()) << "no answer yet: a full get follows";
  ASSERT_EQ(transport.requests.size(), 1u);
  EXPECT_EQ(transport.quoted_ver(), std::nullopt);
  transport.answer_roster(bob_only, "v2");
  EXPECT_EQ(answered_count(), 1);
  EXPECT_EQ(counters().roster_refetches, 1u);

  // The full get failing too is the client's not-ready, not a loop.
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "v2");
  transport.fail_roster(
      {proto::ErrorType::kWait, Condition::kInternalServerError, AppCondition::kNone, ""});
  transport.fail_roster(
      {proto::ErrorType::kWait, Condition::kInternalServerError, AppCondition::kNone, ""});
  EXPECT_EQ(answered_count(), -1);
  EXPECT_TRUE(transport.requests.empty());
  EXPECT_EQ(counters().roster_refetches, 2u);
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
}

TEST_F(RosterVersioning, ATimeoutDropsTheEntryWithoutASecondWait) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  transport.fail_roster({proto::ErrorType::kWait, Condition::kRemoteServerTimeout,
                         AppCondition::kNone, "no answer within 10000 ms"});
  EXPECT_EQ(answered_count(), -1);
  EXPECT_TRUE(transport.requests.empty());
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
}

TEST_F(RosterVersioning, AResultOfAnUnexpectedShapeFetchesInFull) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  transport.answer_roster_with(xml::Element("query", "urn:example:not-a-roster"));
  ASSERT_EQ(transport.requests.size(), 1u);
  EXPECT_EQ(transport.quoted_ver(), std::nullopt);
  transport.answer_roster(both, "v1");
  EXPECT_EQ(answered_count(), 2);
  EXPECT_EQ(counters().roster_refetches, 1u);
}

TEST_F(RosterVersioning, AnEmptyResultIsNotARosterUnlessItsVersionIsHeld) {
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
  transport.answer_roster_unchanged();  // "unchanged since ''": nonsense
  ASSERT_EQ(transport.requests.size(), 1u) << "one plain get";
  EXPECT_EQ(transport.quoted_ver(), std::nullopt);
  transport.answer_roster_unchanged();
  EXPECT_EQ(answered_count(), -1);
  EXPECT_TRUE(transport.requests.empty());
  EXPECT_EQ(counters().roster_cache_hits, 0u);
}

TEST_F(RosterVersioning, DisconnectAndPrivilegeChangesDropEveryEntry) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  service->on_privileges(true);
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
  transport.answer_roster(both, "v1");
  EXPECT_EQ(answered_count(), 2);
  EXPECT_EQ(service->roster_cache().users(), 1u);

  service->on_disconnected();
  EXPECT_EQ(service->roster_cache().users(), 0u);
  service->on_connected(true);
  n_ = 0;  // a new session
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "");
}

TEST_F(RosterVersioning, AnUnchangedAnswerAfterAPrivilegeChangeIsNotTrusted) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "v1");
  service->on_privileges(true);  // while the versioned get is in flight
  transport.answer_roster_unchanged();
  ASSERT_EQ(transport.requests.size(), 1u) << "a full get instead";
  EXPECT_EQ(transport.quoted_ver(), std::nullopt);
  transport.answer_roster(bob_only, "v2");
  EXPECT_EQ(answered_count(), 1);
  EXPECT_EQ(counters().roster_cache_hits, 0u);
}

TEST_F(RosterVersioning, ForbiddenDropsEveryEntry) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  transport.fail_roster({proto::ErrorType::kAuth, Condition::kForbidden, AppCondition::kNone, ""});
  EXPECT_EQ(answered_count(), -1);
  EXPECT_TRUE(transport.requests.empty()) << "no second get without privileges";
  EXPECT_EQ(service->roster_cache().users(), 0u);
}

TEST_F(RosterVersioning, ASyncAnsweredFromTheCacheIsTheSameDeltaAsFromAFullRoster) {
  alice_requests();  // enable r1
  transport.answer_roster(both, "v1");
  ASSERT_EQ(answered_count(), 2);
  presence("carol@other.test/pc", "", "unavailable");
  presence("bob@example.test/laptop", "<show>dnd</show>");
  iq("alice@example.test/tablet", "sy1",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='r1'/></sync>");
  EXPECT_EQ(transport.quoted_ver(), "v1");
  transport.answer_roster_unchanged();
  auto r = transport.take();
  ASSERT_EQ(r.attr("type"), "result") << xml::to_string(r);
  auto delta = proto::parse_delta(*rpsync_child(r));
  ASSERT_TRUE(delta.ok());
  EXPECT_TRUE(delta->contacts.empty()) << "no contact added or removed";
  EXPECT_EQ(delta->unavailable, std::vector<std::string>{"carol@other.test/pc"});
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].jid, "bob@example.test/laptop");
  EXPECT_EQ(delta->state.count(), 1u);
  EXPECT_EQ(counters().roster_cache_hits, 1u);
}

class TinyRosterCache : public RosterVersioning {
 protected:
  TinyRosterCache() : RosterVersioning(3) {}  // alice's 2 contacts + 1: one user at most
};

TEST_F(TinyRosterCache, AnEntryEvictedWhileItsGetIsInFlightStillAnswersIt) {
  alice_requests();
  transport.answer_roster(both, "v1");
  answered_count();
  alice_requests();
  EXPECT_EQ(transport.quoted_ver(), "v1");
  iq("dave@example.test/pc", "d1", "<enable xmlns='urn:xmpp:rpsync:0' stream='d'/>");
  // Answer dave's get (the second pending) first: his roster evicts alice's entry.
  auto alice_get = std::move(transport.requests.front());
  transport.requests.pop_front();
  transport.answer_roster({{"bob@example.test", "both"}}, "d1");
  EXPECT_EQ(transport.take().attr("id"), "d1");
  transport.requests.push_front(std::move(alice_get));
  transport.answer_roster_unchanged();
  EXPECT_EQ(answered_count(), 2) << "the list the quoted version belongs to";
}

class NoRosterCache : public RosterVersioning {
 protected:
  NoRosterCache() : RosterVersioning(0) {}
};

TEST_F(NoRosterCache, NeverQuotesAVersion) {
  for (int i = 0; i < 2; ++i) {
    alice_requests();
    EXPECT_EQ(transport.quoted_ver(), std::nullopt);
    transport.answer_roster(both, "v1");
    EXPECT_EQ(answered_count(), 2);
  }
  EXPECT_EQ(counters().roster_cache_misses, 2u);
}

}  // namespace
}  // namespace rpsync::service
