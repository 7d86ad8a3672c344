// SPDX-License-Identifier: MIT
#include "plugin/app/server_probe.h"

namespace rpsync::app {

ServerProbe::ServerProbe(std::string component, std::vector<std::string> domains,
                         xmpp::Software configured, log::Logger& log)
    : component_(std::move(component)),
      domains_(std::move(domains)),
      configured_(configured),
      log_(log) {}

void ServerProbe::connected(const Request& request, std::string privilege_ns) {
  const std::uint64_t generation = ++generation_;
  privilege_ns_ = std::move(privilege_ns);
  infos_.clear();
  pending_ = domains_.size();
  for (const auto& domain : domains_) {
    request(xmpp::disco_info_request(component_, domain), std::chrono::seconds(10),
            [this, generation, domain](proto::Result<xml::Element> r) {
              if (generation != generation_) return;  // a reconnect asks again
              answered(domain, r);
            });
  }
}

void ServerProbe::answered(const std::string& domain, const proto::Result<xml::Element>& r) {
  if (r) {
    infos_[domain] = xmpp::parse_disco_info(*r);
  } else {
    infos_[domain] = {};
    log_.warn("app", "server.disco_failed", {{"domain", domain}, {"error", r.error().text}});
  }
  if (--pending_ == 0) conclude();
}

void ServerProbe::conclude() {
  std::string missing;
  xmpp::Software sw = xmpp::Software::kUnknown;
  sessions_ = !infos_.empty();
  for (const auto& [domain, info] : infos_) {
    if (!info.has(xmpp::kGateFeature)) missing += (missing.empty() ? "" : ",") + domain;
    if (!info.has(xmpp::kSessionsFeature)) sessions_ = false;
    if (sw == xmpp::Software::kUnknown) sw = xmpp::detect_software(info, privilege_ns_);
  }
  gate_ = missing.empty() ? 1 : 0;
  software_ = sw;
  if (!missing.empty())
    log_.warn("app", "server.gate_missing",
              {{"domains", missing},
               {"feature", xmpp::kGateFeature},
               {"cost",
                "synced clients still get the full presence flood from the server, so "
                "a sync costs more bytes than a plain login; load mod_rpsync_gate "
                "(plugin/prosody, plugin/ejabberd) on these hosts"}});
  else
    log_.info("app", "server.gate_present", {{"domains", domains_.size()}});
  log_.info("app", "server.detected",
            {{"software", xmpp::to_string(sw)},
             {"privilege_ns", privilege_ns_},
             {"sessions_feature", sessions_}});
  if (sw != xmpp::Software::kUnknown && sw != configured_)
    log_.warn("app", "server.software_mismatch",
              {{"configured", xmpp::to_string(configured_)},
               {"detected", xmpp::to_string(sw)},
               {"effect", sw == xmpp::Software::kEjabberd
                              ? "syncs follow ejabberd's rules (docs/ejabberd.md)"
                              : "none until server.software is corrected"}});
  if (detected_) detected_(sw);
}

}  // namespace rpsync::app
