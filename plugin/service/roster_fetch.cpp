// SPDX-License-Identifier: MIT
#include "plugin/service/roster_fetch.h"

#include <utility>
#include <vector>

namespace rpsync::service {

RosterFetch::RosterFetch(Options options, Transport& transport, log::Logger& log,
                         Counters& counters)
    : options_(std::move(options)),
      transport_(transport),
      log_(log),
      counters_(counters),
      cache_(options_.cache_contacts) {}

void RosterFetch::fetch(const std::string& user, Done done, bool versioned) {
  // Quoting ver='' (RFC 6121 §2.6.2: "I version, and hold nothing") is what asks
  // mod_rpsync_gate for a versioned answer; without ver the get is mod_privilege's.
  Call call{user, versioned && cache_.enabled(), std::nullopt, cache_epoch_, std::move(done)};
  std::optional<std::string> ver;
  if (call.versioned) {
    call.cached = cache_.find(user);
    ver = call.cached ? call.cached->ver : "";
  }
  transport_.request(proto::roster_get(options_.component_jid, user, ver), options_.timeout,
                     [this, call = std::move(call)](proto::Result<xml::Element> res) mutable {
                       answered(call, std::move(res));
                     });
}

void RosterFetch::answered(Call& call, proto::Result<xml::Element> res) {
  proto::Result<proto::RosterResult> answer =
      res ? proto::parse_roster_result(*res) : proto::Result<proto::RosterResult>(res.error());
  // "Unchanged" is an answer only to a version we quoted and hold.
  if (answer && answer->unchanged && !call.cached)
    answer = proto::make_error(proto::AppCondition::kNotReady, "roster result without a query");
  if (!answer) return failed(call, answer.error(), res.ok());
  if (answer->unchanged) return unchanged(call);
  full(call, std::move(answer).value());
}

void RosterFetch::failed(Call& call, const proto::StanzaError& e, bool got_result) {
  cache_.erase(call.user);
  // A server error or a result of a shape we do not expect may be the version's
  // fault: try once unversioned. Forbidden is the privileges' business, and after a
  // timeout or a drop a second try would only make the client wait twice as long.
  const bool worth_a_plain_get =
      got_result ||
      (e.app == proto::AppCondition::kNone && e.condition != proto::Condition::kForbidden &&
       e.condition != proto::Condition::kRemoteServerTimeout);
  if (call.versioned && call.epoch == cache_epoch_ && worth_a_plain_get)
    return refetch(call, e.text.empty() ? proto::to_string(e.condition) : e.text);
  call.done(e);
}

void RosterFetch::unchanged(Call& call) {
  // Unchanged since the version we quoted; the list we quoted it for is `cached`, and
  // nothing dropped the cache since we asked.
  if (call.epoch != cache_epoch_) return refetch(call, "cache dropped while the get was in flight");
  ++counters_.roster_cache_hits;
  const RosterCache::Entry& cached = *call.cached;
  cache_.put(call.user, cached);
  log_.debug("service", "roster.fetched",
             {{"user", call.user},
              {"answer", "unchanged"},
              {"ver", cached.ver},
              {"contacts", cached.visible->size()}});
  call.done(Fetched{cached.visible, "cached"});
}

void RosterFetch::full(Call& call, proto::RosterResult answer) {
  ++counters_.roster_cache_misses;
  const std::optional<std::string> ver = std::move(answer.ver);
  auto visible =
      std::make_shared<const std::vector<std::string>>(proto::visible_contacts(std::move(answer)));
  bool kept = false;
  if (ver && call.epoch == cache_epoch_)
    kept = cache_.put(call.user, {*ver, visible});
  else
    cache_.erase(call.user);
  log_.debug("service", "roster.fetched",
             {{"user", call.user},
              {"answer", "full"},
              {"ver", ver.value_or("-")},
              {"contacts", visible->size()},
              {"cached", kept}});
  call.done(Fetched{std::move(visible), ver ? "full" : "unversioned"});
}

void RosterFetch::refetch(Call& call, std::string_view why) {
  ++counters_.roster_refetches;
  log_.warn("service", "roster.refetch", {{"user", call.user}, {"reason", why}});
  fetch(call.user, std::move(call.done), false);
}

void RosterFetch::drop_cache(std::string_view why) {
  ++cache_epoch_;
  if (cache_.users() > 0)
    log_.info("service", "roster.cache_dropped", {{"reason", why}, {"users", cache_.users()}});
  cache_.clear();
}

}  // namespace rpsync::service
