#include "client_ext/client.h"

#include <gloox/connectiontcpbase.h>
#include <gloox/tag.h>
#include <sys/socket.h>

namespace rpsync::client {

Client::Client(const gloox::JID& jid, const std::string& password, int port)
    : gloox::Client(jid, password, port) {}

Client::~Client() = default;

void Client::rosterFilled() {
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
  if (tag != nullptr) {
    bytes_received_ += tag->xml().size();
    if (observer_ != nullptr) observer_->observe_incoming(*tag);
  }
  const bool was_resuming = m_smContext == CtxSMResume;
  gloox::Client::handleTag(tag);
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
