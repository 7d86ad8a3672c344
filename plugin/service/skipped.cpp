// SPDX-License-Identifier: MIT
// What the service does with stanzas the stream parser skipped for a limit, and the fit
// of a delta into one stanza the server accepts (spec "Limits"). Kept apart from
// service.cpp: both are about sizes, not about the request pipeline.
#include "plugin/service/service.h"
#include "protocol/ns.h"

namespace rpsync::service {

void Service::on_skipped(const xml::Element& head, xml::SkipReason why) {
  ++counters_.oversized;
  const std::string_view type = head.attr("type").value_or("");
  const std::string from(head.attr("from").value_or(""));
  log_.warn("service", "stanza.skipped",
            {{"kind", head.name()}, {"type", type}, {"from", from}, {"limit", xml::to_string(why)}});
  if (head.name() == "iq" && (type == "get" || type == "set")) {
    reply_error_to(head, proto::make_error(proto::AppCondition::kStanzaTooBig,
                                           "the request is over this service's " +
                                               std::string(xml::to_string(why)) + " limit"));
  } else if (head.name() == "presence" && !from.empty()) {
    skipped_presence(from, type);
  }
  // A skipped message or IQ result/error carries nothing the service must answer.
}

// A presence we could not read keeps the loss local: an unavailable needs no body, an
// available makes only the sender's resource unknown (Engine::observe_unknown).
void Service::skipped_presence(const std::string& from, std::string_view type) {
  if (resyncing_) last_presence_ms_ = clock_();
  if (type == "unavailable") {
    engine_.observe_unavailable(from);
  } else if (type.empty()) {
    engine_.observe_unknown(from);
    log_.warn("service", "presence.unknown",
              {{"from", from}, {"effect", "keys whose view holds this contact fail until its "
                                          "next readable presence"}});
  } else {
    return;  // subscription management, probes and errors carry no state we track
  }
  if (++unwritten_ >= config_.write_every) persist(false);
}

core::Engine::Fits Service::delta_fit(const xml::Element& request, std::string* why) const {
  // The answer's envelope as reply() writes it, plus the bytes of the delta.
  xml::Element envelope("iq", std::string(ns::kComponent));
  envelope.set_attr("type", "result");
  if (auto id = request.attr("id")) envelope.set_attr("id", std::string(*id));
  if (auto from = request.attr("from")) envelope.set_attr("to", std::string(*from));
  if (auto to = request.attr("to")) envelope.set_attr("from", std::string(*to));
  const std::size_t overhead = xml::to_string(envelope, ns::kComponent).size() + 8;
  return [this, overhead, why](const proto::Delta& d) {
    if (auto over = proto::exceeds_limits(d, config_.limits)) {
      // Legal XMPP the server relayed, but not representable here: the client must log
      // in normally rather than receive a delta it would refuse.
      if (why) *why = "the delta would carry " + *over + ", over this protocol's limits";
      return false;
    }
    const std::size_t bytes = overhead + xml::to_string(proto::to_xml(d)).size();
    if (bytes <= config_.max_answer_bytes) return true;
    if (why)
      *why = "the delta is " + std::to_string(bytes) + " bytes, over the " +
             std::to_string(config_.max_answer_bytes) + " bytes the server accepts in one stanza";
    return false;
  };
}

}  // namespace rpsync::service
