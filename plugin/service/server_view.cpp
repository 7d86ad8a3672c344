// SPDX-License-Identifier: MIT
#include "plugin/service/server_view.h"

#include "protocol/ns.h"

namespace rpsync::service {

std::string_view to_string(ServerView v) {
  switch (v) {
    case ServerView::kResends:
      return "resends";
    case ServerView::kReported:
      return "reported";
    case ServerView::kUnreported:
      return "unreported";
  }
  return "unknown";
}

std::optional<std::string> sessions_sent_host(const xml::Element& message) {
  if (message.name() != "message" || !message.child("sessions-sent", ns::kRpsync))
    return std::nullopt;
  const std::string_view from = message.attr("from").value_or("");
  if (from.empty() || from.find_first_of("@/") != std::string_view::npos) return std::nullopt;
  return std::string(from);
}

bool SessionsSent::note(std::string_view host) {
  auto it = waiting_.find(host);
  if (it != waiting_.end()) {
    done_.insert(*it);
    waiting_.erase(it);
    return true;
  }
  return done_.contains(host);  // a repeat from a served host is harmless
}

std::string SessionsSent::missing() const {
  std::string out;
  for (const auto& h : waiting_) out += (out.empty() ? "" : ",") + h;
  return out;
}

std::string unprovable_on_unreported(const proto::Delta& d) {
  for (const auto& c : d.contacts) {
    if (c.kind != proto::ContactChange::Kind::kAdded) continue;
    return "contact " + c.jid +
           " was added to the roster; without session reports from the server (" +
           std::string(ns::kRpsyncSessions) + ") its silent resources cannot be known";
  }
  return {};
}

}  // namespace rpsync::service
