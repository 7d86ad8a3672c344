// SPDX-License-Identifier: MIT
// How the service applies what its server reports (server_view.h): the app's verdict at
// connect, the <sessions-sent/> messages that complete a connect's re-send (kReported),
// and, without session reports (kUnreported), the proof a sync needs before it answers.
#include <memory>

#include "plugin/service/service.h"
#include "protocol/ns.h"

namespace rpsync::service {

void Service::set_server_view(ServerView view) {
  const bool changed = view != config_.server_view || view_pending_;
  config_.server_view = view;
  view_pending_ = false;
  if (!changed) return;
  std::string awaited = "-";
  if (view == ServerView::kReported) awaited = sessions_.complete() ? "none" : sessions_.missing();
  log_.info("service", "server.view", {{"view", to_string(view)}, {"sessions_awaited", awaited}});
}

// The module's re-send after a connect is complete for one host. Accepted only from a
// served host's bare domain, on the connection it arrived on (the server stamps 'from').
void Service::note_sessions_sent(const xml::Element& message) {
  auto host = sessions_sent_host(message);
  if (!connection_begun_ || !host || !sessions_.note(*host)) {
    log_.warn("service", "sessions_sent.ignored",
              {{"from", message.attr("from").value_or("")},
               {"reason", connection_begun_ ? "not a served host" : "not connected"}});
    return;
  }
  log_.info("service", "sessions_sent.received",
            {{"host", *host},
             {"complete", sessions_.complete()},
             {"ms_after_connect", clock_() - connected_ms_}});
}

void Service::check_sessions_wait(std::int64_t now) {
  if (!connected_ || !awaiting_sessions()) return;
  if (now - connected_ms_ < config_.sessions_wait.count()) return;
  log_.error("service", "sessions.incomplete",
             {{"missing", sessions_.missing()},
              {"waited_ms", now - connected_ms_},
              {"effect",
               "treated as a server without session reports until reconnected: "
               "syncs that cannot be proven fail with continuity-lost"}});
  config_.server_view = ServerView::kUnreported;
}

bool Service::resync_settled(std::int64_t now) const {
  if (now - resync_start_ms_ >= config_.resync_max.count()) return true;
  // The witness of a complete re-send: nothing is left to wait for.
  if (config_.close_gaps_per_user && sessions_.complete()) return true;
  if (view_pending_) return false;
  if (config_.server_view == ServerView::kReported) return sessions_.complete();
  return now - last_presence_ms_ >= config_.resync_quiet.count();
}

core::Engine::Fits Service::provable_fit(const xml::Element& request, std::string* unfit,
                                         std::string* unproven) const {
  auto fit = delta_fit(request, unfit);
  if (config_.server_view != ServerView::kUnreported) return fit;
  return [fit = std::move(fit), unproven](const proto::Delta& d) {
    *unproven = unprovable_on_unreported(d);
    return unproven->empty() && fit(d);
  };
}

struct Service::Verification {
  std::size_t pending = 0;
  std::vector<std::string> gone;  // the server has no session for it: service-unavailable
  std::string unproven;           // why the answer cannot be proven, empty if it can
  RosterCache::Visible visible;
};

// kUnreported: a dropped connection with no contact online ends unseen, so every resource
// the answer would show as available is pinged. The server answers service-unavailable
// itself, at once, for a session it no longer has: gone. Any other answer comes from a
// session with that full JID, but possibly a new one that never sent presence; no answer
// within verify_timeout is a session the server holds without its client (XEP-0198
// hibernation). Neither proves the presence held, so the sync fails unless every
// resource is gone. Losing our own connection meanwhile proves nothing either.
void Service::verify_then_run(const std::string& user, RosterCache::Visible visible) {
  engine_.set_roster(user, *visible);
  const proto::PresenceState state = engine_.view(user);
  auto q = queues_.find(user);
  if (state.empty()) return run(*q->second.front(), *visible);
  if (state.size() > config_.limits.max_delta_items) {
    reply_error(*q->second.front(),
                proto::make_error(proto::AppCondition::kTooLarge,
                                  "too many resources to verify before answering"));
    return finish(user);
  }
  auto v = std::make_shared<Verification>();
  v->pending = state.size();
  v->visible = std::move(visible);
  const std::uint64_t generation = generation_;
  for (const auto& [jid, fields] : state) {
    xml::Element iq("iq", std::string(ns::kComponent));
    iq.set_attr("type", "get");
    iq.set_attr("from", config_.component_jid);
    iq.set_attr("to", jid);
    iq.add(xml::Element("ping", std::string(ns::kPing)));
    transport_.request(
        std::move(iq), config_.verify_timeout,
        [this, user, generation, v, jid = jid](proto::Result<xml::Element> res) {
          if (!res && res.error().app == proto::AppCondition::kNotReady)
            v->unproven = "the connection to the server was lost while verifying";
          else if (!res && res.error().condition == proto::Condition::kServiceUnavailable)
            v->gone.push_back(jid);
          else if (v->unproven.empty())
            v->unproven = "the server still has a session " + jid +
                          ", but without session reports (" + std::string(ns::kRpsyncSessions) +
                          ") its presence cannot be proven";
          if (--v->pending > 0 || generation != generation_) return;
          verified(user, *v);
        });
  }
}

void Service::verified(const std::string& user, const Verification& v) {
  auto q = queues_.find(user);
  if (q == queues_.end() || q->second.empty()) return;
  const Request& front = *q->second.front();
  log_.info("service", "sync.verified",
            {{"user", user},
             {"gone", v.gone.size()},
             {"unproven", v.unproven.empty() ? std::string("-") : v.unproven}});
  if (!v.unproven.empty()) {
    ++counters_.syncs;
    ++counters_.failures[std::string(proto::to_string(proto::AppCondition::kContinuityLost))];
    reply_error(front, proto::make_error(proto::AppCondition::kContinuityLost, v.unproven));
    return finish(user);
  }
  for (const auto& g : v.gone) engine_.observe_unavailable(g);
  run(front, *v.visible);
}

}  // namespace rpsync::service
