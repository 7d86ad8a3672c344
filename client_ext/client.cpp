#include "client_ext/client.h"

#include <gloox/connectiontcpbase.h>
#include <gloox/iq.h>
#include <gloox/stanzaextension.h>
#include <gloox/tag.h>
#include <sys/socket.h>

#include <optional>

namespace rpsync::client {
namespace {

// gloox::RosterManager::RosterContext::RequestRoster (private; first enumerator).
constexpr int kGlooxRequestRoster = 0;

// The outgoing <query xmlns='jabber:iq:roster' [ver='…']/> of the roster get. Never
// registered with gloox's parser (incoming queries are gloox's RosterManager::Query).
class RosterGet final : public gloox::StanzaExtension {
 public:
  explicit RosterGet(std::optional<std::string> ver)
      : gloox::StanzaExtension(gloox::ExtUser + 0x5301), ver_(std::move(ver)) {}
  const std::string& filterString() const override {
    static const std::string kNone;
    return kNone;
  }
  gloox::StanzaExtension* newInstance(const gloox::Tag*) const override { return nullptr; }
  gloox::Tag* tag() const override {
    auto* t = new gloox::Tag("query");
    t->setXmlns(gloox::XMLNS_ROSTER);
    // Tag::addAttribute(name, value) drops empty values; the bootstrap needs ver=''.
    if (ver_) t->addAttribute(new gloox::Tag::Attribute("ver", *ver_));
    return t;
  }
  gloox::StanzaExtension* clone() const override { return new RosterGet(ver_); }

 private:
  std::optional<std::string> ver_;
};

}  // namespace

Client::Client(const gloox::JID& jid, const std::string& password, int port)
    : gloox::Client(jid, password, port) {
  disableRoster();
  roster_ = std::make_unique<gloox::RosterManager>(this);
  private_xml_ = std::make_unique<gloox::PrivateXML>(this);
}

Client::~Client() = default;

void Client::request_roster() {
  roster_requested_ = true;
  notifyStreamEvent(gloox::StreamEventRoster);
  // What RosterManager::fill() does before its get.
  gloox::Roster* roster = roster_->roster();
  for (auto& entry : *roster) delete entry.second;
  roster->clear();
  private_xml_->requestXML("roster", gloox::XMLNS_ROSTER_DELIMITER, roster_.get());

  const RosterRequest plan = roster_ver_.begin(jid().bare(), server_rosterver_);
  gloox::IQ iq(gloox::IQ::Get, gloox::JID(), getID());
  iq.addExtension(new RosterGet(plan.kind == RosterRequestKind::kPlain
                                    ? std::nullopt
                                    : std::optional<std::string>(plan.ver)));
  roster_ver_.sent(iq.id());
  send(iq, roster_.get(), kGlooxRequestRoster);
}

void Client::rosterFilled() {
  // gloox calls this twice per login here: from connected() where it would have called
  // fill() (no get outstanding yet), and from the RosterManager once the roster arrived.
  if (!roster_requested_ && !resumed()) {
    request_roster();
    return;
  }
  roster_requested_ = false;
  if (gate_ != nullptr && gate_->hold_initial_presence()) {
    held_ = true;
    return;
  }
  held_ = true;
  release_initial_presence();
}

void Client::release_initial_presence(const gloox::StanzaExtension* extra) {
  if (!held_) return;
  held_ = false;
  // What gloox::Client::rosterFilled() does (it is private, so it is repeated here):
  // setPresence() sends the stored initial presence plus m_presenceExtensions (caps).
  // `extra` rides along in m_presenceExtensions for this one send only.
  if (extra != nullptr) m_presenceExtensions.push_back(extra);
  setPresence();
  if (extra != nullptr) m_presenceExtensions.remove(extra);
  notifyStreamEvent(gloox::StreamEventFinished);
  notifyOnConnect();
}

void Client::handleTag(gloox::Tag* tag) {
  std::unique_ptr<gloox::Tag> replacement;
  if (tag != nullptr) {
    bytes_received_ += tag->xml().size();
    if (observer_ != nullptr) observer_->observe_incoming(*tag);
    if (tag->xmlns() == gloox::XMLNS_STREAM && tag->name() == "stream") {
      server_rosterver_ = false;
      roster_requested_ = false;
    } else if (tag->xmlns() == gloox::XMLNS_STREAM && tag->name() == "features") {
      server_rosterver_ = tag->hasChild("ver", "xmlns", std::string(kRosterVerFeatureNs));
    } else {
      replacement = roster_ver_.incoming(*tag);
    }
  }
  const bool was_resuming = m_smContext == CtxSMResume;
  gloox::Client::handleTag(replacement ? replacement.get() : tag);
  if (was_resuming && m_smContext == CtxSMFailed) {
    // XEP-0198 §5: after a failed resume the client binds a new resource on the same
    // stream. gloox stops here, so continue the login (and ask for SM afresh).
    m_smContext = CtxSMInvalid;
    m_smHandled = 0;
    held_ = false;
    bindResource(resource());
  }
}

void Client::abort_connection() {
  auto* tcp = dynamic_cast<gloox::ConnectionTCPBase*>(connectionImpl());
  if (tcp == nullptr || tcp->socket() < 0) return;
  // shutdown() instead of close(): gloox still owns the descriptor and notices the
  // end of the connection on its next recv(), reporting a connection error (not a
  // user disconnect), which keeps its stream-management state for a resume.
  ::shutdown(tcp->socket(), SHUT_RDWR);
}

}  // namespace rpsync::client
