// SPDX-License-Identifier: MIT
// At every connect, asks each served domain's disco#info and learns from the answers
// (and from the privilege advertisement's namespace) whether mod_rpsync_gate runs there
// (feature urn:xmpp:rpsync:0#synced; on ejabberd also urn:xmpp:rpsync:0#sessions, the
// module's session reports) and which server software it is. A missing gate is
// logged loudly (server.gate_missing) because it costs what rpsync is meant to save; a
// detected software that disagrees with server.software is logged too
// (server.software_mismatch); the app hands the verdict to the service
// (Service::set_server_view). Event loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "plugin/log/log.h"
#include "plugin/xmpp/server_info.h"
#include "protocol/error.h"
#include "protocol/xml.h"

namespace rpsync::app {

class ServerProbe {
 public:
  using Reply = std::function<void(proto::Result<xml::Element>)>;
  using Request = std::function<void(xml::Element, std::chrono::milliseconds, Reply)>;

  ServerProbe(std::string component, std::vector<std::string> domains, xmpp::Software configured,
              log::Logger& log);
  // Called once every domain answered (or failed), with the software detected.
  void on_detected(std::function<void(xmpp::Software)> f) { detected_ = std::move(f); }

  void connected(const Request& request, std::string privilege_ns);
  void disconnected() { ++generation_; }

  // 1: every served domain advertises the gate; 0: one does not; -1: not known yet.
  int gate_feature() const { return gate_; }
  // Every served domain advertises urn:xmpp:rpsync:0#sessions (mod_rpsync_gate for
  // ejabberd reports session ends and re-sends presence on connect); false until known.
  bool sessions_feature() const { return sessions_; }
  xmpp::Software software() const { return software_; }

 private:
  void answered(const std::string& domain, const proto::Result<xml::Element>& r);
  void conclude();

  std::string component_;
  std::vector<std::string> domains_;
  xmpp::Software configured_;
  log::Logger& log_;
  std::function<void(xmpp::Software)> detected_;
  std::uint64_t generation_ = 0;
  std::string privilege_ns_;
  std::map<std::string, xmpp::DiscoInfo> infos_;
  std::size_t pending_ = 0;
  int gate_ = -1;
  bool sessions_ = false;
  xmpp::Software software_ = xmpp::Software::kUnknown;
};

}  // namespace rpsync::app
