// SPDX-License-Identifier: MIT
#include "plugin/feed/replica.h"

#include <utility>

#include "plugin/feed/apply.h"

namespace rpsync::app {

feed::FeedConfig feed_config(const AppConfig& config) {
  return feed::FeedConfig{config.instance_id, config.observer_group, config.retention_entries,
                          static_cast<std::int64_t>(config.retention_ms)};
}

StatusOr<std::unique_ptr<Replica>> Replica::prepare(const AppConfig& config,
                                                    const store::RedisTarget& target,
                                                    log::Logger& log) {
  feed::FeedConfig fc = feed_config(config);
  if (auto why = feed::check_config(fc); !why.empty()) return Status::invalid_argument(why);
  auto prepared = feed::FeedReader::prepare(target, fc.instance);
  if (!prepared) return prepared.status();
  log.info("feed", "consumer_group.prepared",
           {{"instance", fc.instance},
            {"observer_group", fc.observer_group},
            {"group_created", prepared->created},
            {"baseline", prepared->baseline}});
  return std::unique_ptr<Replica>(
      new Replica(std::move(fc), target, prepared->baseline, config.heartbeat_ttl_ms, log));
}

Replica::Replica(feed::FeedConfig fc, store::RedisTarget target, std::string baseline,
                 std::int64_t ttl_ms, log::Logger& log)
    : fc_(std::move(fc)),
      target_(std::move(target)),
      baseline_(std::move(baseline)),
      log_(log),
      continuity_(target_, fc_.instance, fc_.observer_group, ttl_ms) {}

Replica::~Replica() {
  stop();
}

// A feed entry from a peer (or this instance's own, echoed): applied to the engine, with
// debug lines saying why a session is (not) answerable here.
bool Replica::on_entry(const feed::Entry& e, const feed::Self& self) {
  const feed::Applied a = feed::apply_entry(*engine_, e, self);
  if (std::string differs = views_differing(e); !differs.empty())
    log_.debug("feed", "session.view_differs",
               {{"origin", e.origin}, {"user_count_there_here", differs}});
  if (a.sessions > 0)
    log_.debug("feed", "sessions.applied",
               {{"origin", e.origin},
                {"sessions", a.sessions},
                {"answerable", a.answerable},
                {"id", e.id}});
  if (a.admin > 0)
    log_.info("feed", "admin.applied",
              {{"kind", feed::kind_name(e.kind)}, {"user", e.user}, {"origin", e.origin}});
  return true;
}

// Why a session is not answerable here: the origin's count against this view's, for each
// session whose digest differs (the adoption rule, after the entry's own roster was applied).
std::string Replica::views_differing(const feed::Entry& e) const {
  std::string differs;
  std::size_t d = 0;
  for (const auto& m : e.mutations) {
    const auto* put = std::get_if<core::PutSession>(&m);
    if (!put) continue;
    if (d < e.digests.size() && e.digests[d].newest) {
      const proto::StateDigest here = engine_->digest(put->session.user);
      if (!(here == *e.digests[d].newest))
        differs += (differs.empty() ? "" : ",") + put->session.user + ":" +
                   std::to_string(e.digests[d].newest->count()) + "/" +
                   std::to_string(here.count());
    }
    ++d;
  }
  return differs;
}

void Replica::on_gap(const std::string& why) {
  engine_->gap();
  service_->flush();
  log_.warn("feed", "gap.detected",
            {{"reason", why}, {"effect", "older keys now fail with continuity-lost"}});
}

void Replica::start(core::Engine& engine, store::RedisStore& store, service::Service& service,
                    feed::Executor executor) {
  engine_ = &engine;
  service_ = &service;
  store_ = &store;
  defer_own_gap_ = service.config().on_connect == service::ServiceConfig::OnConnect::kResync &&
                   !service.config().gap_on_disconnect;
  if (defer_own_gap_) {
    service.set_resync_witness([this] { return witness(); });
    // The restart is this instance's own gap too: when a peer covered it, the restored
    // keys whose digest still matches are taken again (Engine::readopt_restored()).
    own_gap_open_ = restarted_ = true;
  }
  auto publisher = std::make_shared<feed::Publisher>(fc_, target_.prefix);
  store.set_commit_hook(feed::commit_hook(publisher, [&engine](const core::SessionRecord& r) {
    return feed::SessionDigests{
        engine.digest_at(r.user, r.stream, r.resource, r.newest.id),
        r.previous ? engine.digest_at(r.user, r.stream, r.resource, r.previous->id) : std::nullopt};
  }));
  feed::ReaderOptions ro;
  ro.instance = fc_.instance;
  ro.last_applied = baseline_;
  const feed::Self self{fc_.instance, fc_.observer_group};
  reader_ = std::make_unique<feed::FeedReader>(
      target_, ro, std::move(executor),
      [this, self](const feed::Entry& e) { return on_entry(e, self); },
      [this](const std::string& why) { on_gap(why); });
  service.set_blocked(blocked_);
  reader_->start();
}

void Replica::stop() {
  if (reader_) reader_->stop();
}

std::optional<std::vector<core::ResourceRecord>> Replica::witness() {
  if (!own_gap_open_) return std::nullopt;
  auto image = store_->load_presence();
  if (!image) {
    close_own_gap(false, "could not read the shared presence: " + image.status().message());
    return std::nullopt;
  }
  // Closed (when kept) on the next tick, after the service has applied the rows: a restart's
  // keys are compared with the view they make.
  witnessed_ = true;
  log_.info("feed", "own_gap.witnessed", {{"rows", image->resources.size()}});
  return std::move(image->resources);
}

void Replica::close_own_gap(bool kept, std::string_view why) {
  if (!own_gap_open_) return;
  own_gap_open_ = witnessed_ = kept_ = false;
  const bool restart = std::exchange(restarted_, false);
  if (kept && restart) {
    ++counters_.own_gaps_bridged;
    const std::size_t n = engine_->readopt_restored();
    counters_.keys_readopted += n;
    log_.info("feed", "own_gap.bridged",
              {{"gap", "restart"},
               {"keys_taken_again", n},
               {"effect", "restored keys whose digest matches the view are valid again"}});
    return;
  }
  if (kept) {
    ++counters_.own_gaps_bridged;
    log_.info("feed", "own_gap.bridged",
              {{"gap", "disconnect"},
               {"effect", "keys from before the gap stay valid: a peer observed throughout"}});
    return;
  }
  ++counters_.own_gaps_lost;
  if (restart) {  // restore() invalidated them already
    log_.info("feed", "own_gap.lost", {{"gap", "restart"}, {"reason", why}});
    return;
  }
  engine_->gap();
  service_->flush();
  log_.warn("feed", "own_gap.lost",
            {{"gap", "disconnect"},
             {"reason", why},
             {"effect", "older keys now fail with continuity-lost"}});
}

void Replica::on_disconnected() {
  continuity_undecided_ = true;  // our own gap starts: judged after the next first beat
  if (defer_own_gap_) {
    own_gap_open_ = true;  // a second disconnect before it closed just extends it
    witnessed_ = kept_ = false;
    // The restart's gap was never judged on its own (the next decision covers only this
    // one): its keys stay continuity-lost.
    restarted_ = false;
  }
  if (auto r = continuity_.end_run(); !r) {
    // end_run() ended the run locally anyway; the heartbeat key it could not delete is
    // deleted before the next beat, so peers stop counting on this instance meanwhile.
    end_run_owed_ = true;
    log_.warn("feed", "continuity.end_run_failed", {{"error", r.message()}});
  }
  last_beat_ms_ = 0;
  update_readiness();  // blocked from now, not from the next tick
}

void Replica::update_readiness() {
  std::string why;
  int state = 0;
  if (!reader_->ready()) {
    caught_up_ = false;
    state = 1;
    why = "the change feed is unavailable: " + reader_->last_error();
  } else if (!caught_up_ && !(caught_up_ = reader_->caught_up())) {
    state = 2;
    why = "catching up with the change feed";
  } else if (end_run_owed_ || continuity_undecided_) {
    state = 3;
    why = "deciding group continuity after a gap";
  } else if (own_gap_open_) {
    state = 4;
    why = "re-learning presence after a gap";
  }
  if (state != blocked_state_) {
    if (state == 0)
      log_.info("feed", "feed.ready", {{"instance", fc_.instance}});
    else
      log_.warn("feed", "feed.not_ready", {{"reason", why}});
    blocked_state_ = state;
  }
  if (why != blocked_) {
    blocked_ = why;
    service_->set_blocked(why);
  }
  counters_.ready = state == 0;
}

void Replica::beat() {
  if (end_run_owed_) {
    if (auto r = continuity_.end_run(); !r) return;
    end_run_owed_ = false;
  }
  auto b = continuity_.beat();
  if (!b) {
    ++counters_.beat_failures;
    if (!beat_failing_)
      log_.warn("feed", "continuity.beat_failed", {{"error", b.status().message()}});
    beat_failing_ = true;
    return;
  }
  if (beat_failing_) log_.info("feed", "continuity.beating_again");
  beat_failing_ = false;
  ++counters_.beats;
  note_group_epoch(b->group_epoch, "the group epoch rose: every instance was cut off at once");
  if (b->new_run) log_.info("feed", "continuity.run_started", {{"since_ms", b->since_ms}});
  if (!b->decide) {
    continuity_undecided_ = false;
    return;
  }
  continuity_undecided_ = true;
  auto d = continuity_.decide();
  if (!d) {
    log_.warn("feed", "continuity.decide_failed", {{"error", d.status().message()}});
    return;
  }
  on_decision(*d);
}

void Replica::note_group_epoch(std::uint64_t epoch, std::string_view why) {
  if (group_epoch_ && epoch > *group_epoch_) {
    engine_->gap();
    service_->flush();
    ++counters_.group_gaps;
    log_.warn("feed", "continuity.lost",
              {{"scope", "group"},
               {"group_epoch", epoch},
               {"reason", why},
               {"effect", "every key now fails with continuity-lost"}});
  }
  if (!group_epoch_ || epoch > *group_epoch_) group_epoch_ = epoch;
  counters_.group_epoch = *group_epoch_;
}

void Replica::on_decision(const feed::Decision& d) {
  switch (d.verdict) {
    case feed::Verdict::kKept:
      ++counters_.decisions_kept;
      continuity_undecided_ = false;
      pending_logged_ = false;
      log_.info("feed", "continuity.kept",
                {{"covered_by", d.covered_by}, {"group_epoch", d.group_epoch}});
      kept_ = true;  // the own gap closes on this tick if the rows were applied already
      break;
    case feed::Verdict::kPending:
      if (!pending_logged_)
        log_.info("feed", "continuity.pending", {{"reason", "a live peer has not beaten since"}});
      pending_logged_ = true;
      break;
    case feed::Verdict::kLost:
      ++counters_.decisions_lost;
      continuity_undecided_ = false;
      pending_logged_ = false;
      // The raise is for every peer's keys; ours go with close_own_gap() below.
      if (!group_epoch_ || d.group_epoch > *group_epoch_) group_epoch_ = d.group_epoch;
      counters_.group_epoch = *group_epoch_;
      log_.warn("feed", "continuity.lost",
                {{"scope", "this instance's gap, covered by no peer"},
                 {"group_epoch", d.group_epoch},
                 {"effect", "group epoch raised: every instance invalidates its keys"}});
      close_own_gap(false, "no peer of the observer group observed throughout");
      break;
  }
}

void Replica::tick(std::int64_t now_ms) {
  if (!reader_) return;
  if (service_->observing() &&
      (last_beat_ms_ == 0 || now_ms - last_beat_ms_ >= continuity_.ttl_ms() / 3)) {
    last_beat_ms_ = now_ms;
    beat();
  }
  if (own_gap_open_ && witnessed_ && kept_) close_own_gap(true, "");
  update_readiness();
  counters_.reader = reader_->stats();
}

ReplicaCounters Replica::counters() const {
  ReplicaCounters c = counters_;
  if (reader_) c.reader = reader_->stats();
  return c;
}

}  // namespace rpsync::app
