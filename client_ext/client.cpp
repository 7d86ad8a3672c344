// SPDX-License-Identifier: MIT
#include "client_ext/client.h"

#include <gloox/base64.h>
#include <gloox/connectiontcpbase.h>
#include <gloox/iq.h>
#include <gloox/stanzaextension.h>
#include <gloox/tag.h>
#include <gloox/tlsbase.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>

#include "protocol/ns.h"

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

bool printable_ascii(const std::string& s) {
  for (const char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return !s.empty();
}

bool offers_mechanism(const gloox::Tag& features, const std::string& name) {
  const gloox::Tag* mechs = features.findChild("mechanisms", "xmlns", gloox::XMLNS_STREAM_SASL);
  return mechs != nullptr && mechs->hasChildWithCData("mechanism", name);
}

gloox::Tag* sasl_tag(const std::string& name, const std::string& payload) {
  auto* t = new gloox::Tag(name, "xmlns", gloox::XMLNS_STREAM_SASL);
  if (!payload.empty()) t->setCData(gloox::Base64::encode64(payload));
  return t;
}

// The features without an optional legacy <session/>, or null when there is none.
std::unique_ptr<gloox::Tag> without_optional_session(const gloox::Tag& features) {
  const gloox::Tag* session = features.findChild("session", "xmlns", gloox::XMLNS_STREAM_SESSION);
  if (session == nullptr || !session->hasChild("optional")) return nullptr;
  std::unique_ptr<gloox::Tag> copy(features.clone());
  copy->removeChild("session", gloox::XMLNS_STREAM_SESSION);
  return copy;
}

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
  if (roster_ver_.cache() == nullptr) {
    private_xml_->requestXML("roster", gloox::XMLNS_ROSTER_DELIMITER, roster_.get());
  }

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
    if (gate_ != nullptr) gate_->session_started();
    request_roster();
    return;
  }
  roster_requested_ = false;
  held_ = true;  // before asking the gate: it may release from inside hold_initial_presence()
  if (gate_ != nullptr && gate_->hold_initial_presence()) return;
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

// ---- SCRAM-SHA-1 ----------------------------------------------------------------------

bool Client::scram_takes_over(const gloox::Tag& features) const {
  if (scram_cache_ == nullptr || m_authed || !m_sasl || m_authzid) return false;
  const bool starttls = features.hasChild("starttls", "xmlns", gloox::XMLNS_STREAM_TLS);
  // gloox's order in Client::handleNormalNode: TLS, then compression, then SASL.
  if (m_tls == gloox::TLSRequired && !m_encryptionActive) return false;
  if (m_tls > gloox::TLSDisabled && m_encryption != nullptr && !m_encryptionActive && starttls)
    return false;
  if (m_compress && m_compression != nullptr && !m_compressionActive &&
      features.hasChild("compression", "xmlns", gloox::XMLNS_STREAM_COMPRESS)) {
    return false;
  }
  if ((m_availableSaslMechs & gloox::SaslMechScramSha1) == 0 ||
      !offers_mechanism(features, "SCRAM-SHA-1")) {
    return false;
  }
  const bool channel_binding =
      m_encryption != nullptr && m_encryptionActive && m_encryption->hasChannelBinding();
  if (channel_binding && (m_availableSaslMechs & gloox::SaslMechScramSha1Plus) != 0 &&
      offers_mechanism(features, "SCRAM-SHA-1-PLUS")) {
    return false;
  }
  const std::string& user = m_authcid.empty() ? m_jid.username() : m_authcid;
  return printable_ascii(user) && printable_ascii(m_password);
}

void Client::scram_start(bool retry) {
  const std::string& user = m_authcid.empty() ? m_jid.username() : m_authcid;
  scram_ = ScramLogin{};
  scram_.retried = retry;
  scram_.account = user + "@" + m_jid.server();
  scram_.nonce = scram::make_nonce();
  const bool channel_binding =
      m_encryption != nullptr && m_encryptionActive && m_encryption->hasChannelBinding();
  scram_.gs2_header = channel_binding ? "y,," : "n,,";
  scram_.client_first_bare = "n=" + scram::escape_saslname(user) + ",r=" + scram_.nonce;
  scram_.step = ScramLogin::Step::kAuthSent;
  ++scram_stats_.logins;
  if (!retry) notifyStreamEvent(gloox::StreamEventAuthentication);
  gloox::Tag* auth = sasl_tag("auth", scram_.gs2_header + scram_.client_first_bare);
  auth->addAttribute("mechanism", "SCRAM-SHA-1");
  send(auth);
}

void Client::scram_fail() {
  scram_.step = ScramLogin::Step::kNone;
  // gloox::Client's disconnect(ConnectionError) is private; an empty SASL <failure/>
  // makes gloox end the connection as for any failed authentication
  // (ConnAuthenticationFailed, authError() AuthErrorUndefined).
  gloox::Tag failure("failure", "xmlns", gloox::XMLNS_STREAM_SASL);
  gloox::Client::handleTag(&failure);
}

bool Client::scram_handle(const gloox::Tag& tag) {
  using Step = ScramLogin::Step;
  if (scram_.step == Step::kNone || tag.xmlns() != gloox::XMLNS_STREAM_SASL) return false;
  const bool cached_key_rejected = tag.name() == "failure" && scram_.step == Step::kResponseSent &&
                                   scram_.from_cache && !scram_.retried;
  // What gloox::ClientBase::handleTag logs for every element; a failure handed on to
  // gloox (return false) is logged there.
  const bool ours = tag.name() == "challenge" || tag.name() == "success" || cached_key_rejected;
  if (ours) logInstance().dbg(gloox::LogAreaXmlIncoming, tag.xml());
  const std::string payload = gloox::Base64::decode64(tag.cdata());
  if (tag.name() == "challenge" && scram_.step == Step::kAuthSent) {
    scram_server_first(payload);
  } else if (tag.name() == "challenge" && scram_.step == Step::kResponseSent) {
    scram_server_final(payload);
  } else if (tag.name() == "success" &&
             (scram_.step == Step::kResponseSent || scram_.step == Step::kVerified)) {
    scram_success(payload);
  } else if (cached_key_rejected) {
    scram_retry_derived();
  } else if (ours) {
    // A challenge or success out of turn: the server broke the exchange.
    scram_fail();
  } else {
    // Any other failure ends our exchange; gloox reports it.
    scram_.step = Step::kNone;
    return false;
  }
  return true;
}

void Client::scram_server_first(const std::string& payload) {
  auto first = scram::parse_server_first(payload, scram_.nonce);
  if (!first) {
    scram_fail();
    return;
  }
  scram_.salt = first->salt;
  scram_.iterations = first->iterations;
  std::optional<std::string> cached;
  if (!scram_.retried) {
    cached = scram_cache_->load_salted_password(scram_.account, first->salt, first->iterations);
  }
  scram_.from_cache = cached.has_value();
  if (cached) {
    scram_.salted = std::move(*cached);
    ++scram_stats_.cache_hits;
  } else {
    scram_.salted = scram::salted_password(m_password, first->salt, first->iterations);
    ++scram_stats_.derivations;
  }
  scram::Final f = scram::client_final(scram_.salted, scram_.gs2_header, scram_.client_first_bare,
                                       payload, first->nonce);
  scram_.server_signature = std::move(f.server_signature);
  scram_.step = ScramLogin::Step::kResponseSent;
  send(sasl_tag("response", f.client_final_message));
}

void Client::scram_server_final(const std::string& payload) {
  // The server-final-message as a last challenge (RFC 6120 §6.4.6 allows it); the
  // <success/> that follows then carries no data.
  if (!scram::verify_server_final(payload, scram_.server_signature)) {
    ++scram_stats_.bad_server_signature;
    scram_fail();
    return;
  }
  scram_.step = ScramLogin::Step::kVerified;
  send(sasl_tag("response", ""));
}

void Client::scram_success(const std::string& payload) {
  const bool verified = scram_.step == ScramLogin::Step::kVerified
                            ? payload.empty()
                            : scram::verify_server_final(payload, scram_.server_signature);
  if (!verified) {
    ++scram_stats_.bad_server_signature;
    scram_fail();
    return;
  }
  if (!scram_.from_cache) {
    scram_cache_->save_salted_password(scram_.account, scram_.salt, scram_.iterations,
                                       scram_.salted);
  }
  scram_ = ScramLogin{};
  // What gloox does on a verified <success/>.
  setAuthed(true);
  header();
}

void Client::scram_retry_derived() {
  // The cached key no longer fits the password (the server kept the salt).
  scram_cache_->erase_salted_password(scram_.account);
  ++scram_stats_.retries;
  scram_start(true);
}

// ---- incoming elements --------------------------------------------------------------

void Client::handleTag(gloox::Tag* tag) {
  std::unique_ptr<gloox::Tag> replacement;
  if (tag != nullptr) {
    bytes_received_ += tag->xml().size();
    if (observer_ != nullptr) observer_->observe_incoming(*tag);
    if (tag->xmlns() == gloox::XMLNS_STREAM && tag->name() == "stream") {
      if (tcp_nodelay_) set_nodelay();
      server_rosterver_ = false;
      roster_requested_ = false;
      if (!m_authed) scram_ = ScramLogin{};
    } else if (tag->xmlns() == gloox::XMLNS_STREAM && tag->name() == "features") {
      server_rosterver_ = tag->hasChild("ver", "xmlns", std::string(kRosterVerFeatureNs));
      server_synced_feature_ = tag->hasChild("synced", "xmlns", std::string(ns::kRpsync));
      if (scram_takes_over(*tag)) {
        logInstance().dbg(gloox::LogAreaXmlIncoming, tag->xml());  // as gloox would
        scram_start(false);
        return;
      }
      if (skip_optional_session_) replacement = without_optional_session(*tag);
    } else if (scram_handle(*tag)) {
      return;
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

void Client::set_nodelay() {
  auto* tcp = dynamic_cast<gloox::ConnectionTCPBase*>(connectionImpl());
  if (tcp == nullptr || tcp->socket() < 0) return;
  const int one = 1;
  (void)::setsockopt(tcp->socket(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
