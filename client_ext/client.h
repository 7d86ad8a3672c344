// rpsync::client::Client: a gloox::Client that gives the rpsync manager the three hooks
// plain gloox lacks (gloox 1.0.24):
//   - the stream id (gloox keeps it in the protected ClientBase::m_sid);
//   - control over the moment of initial presence: gloox sends it from the private
//     virtual Client::rosterFilled() right after the roster result; here a PresenceGate
//     may hold it (sync BEFORE initial presence) and release it later;
//   - every incoming top-level element before gloox dispatches it (raw presence
//     children such as idle and vcard-temp:x:update, which gloox's Presence drops, and
//     byte counts).
// It also completes a failed XEP-0198 resume: gloox 1.0.24 marks the stream failed and
// stops, so this class resets the SM state and binds a resource, continuing with a
// normal login.
//
// Threading: like gloox::Client, single-threaded; every callback runs inside recv().
#pragma once

#include <gloox/client.h>

#include <cstddef>
#include <string>

namespace rpsync::client {

// Decides whether initial presence goes out as soon as the roster arrived.
class PresenceGate {
 public:
  virtual ~PresenceGate() = default;
  // Called where gloox would send initial presence. Return true to hold it; the gate
  // must then call Client::release_initial_presence() exactly once later.
  virtual bool hold_initial_presence() = 0;
};

// Sees every top-level element the client receives, before gloox handles it.
class TagObserver {
 public:
  virtual ~TagObserver() = default;
  virtual void observe_incoming(const gloox::Tag& tag) = 0;
};

class Client : public gloox::Client {
 public:
  Client(const gloox::JID& jid, const std::string& password, int port = -1);
  ~Client() override;

  // The id the server gave the current stream ('' before the stream header arrived).
  const std::string& stream_id() const { return m_sid; }

  // At most one each; null to remove. Not owned.
  void set_presence_gate(PresenceGate* gate) { gate_ = gate; }
  void set_tag_observer(TagObserver* observer) { observer_ = observer; }

  // True between a held initial presence and its release.
  bool initial_presence_held() const { return held_; }
  // Sends the held initial presence and completes the login (StreamEventFinished,
  // ConnectionListener::onConnect). `extra` (not owned), when given, is added to this one
  // presence only (the <synced/> marker). No-op when nothing is held.
  void release_initial_presence(const gloox::StanzaExtension* extra = nullptr);
  // Forgets a held initial presence without sending it (the connection is gone).
  void drop_initial_presence() { held_ = false; }

  // Whether the current session was resumed with XEP-0198 (no roster, no presence sent).
  bool resumed() const { return m_smContext == CtxSMResumed; }

  // Closes the TCP connection without closing the XML stream (a simulated network
  // drop; the server sees the connection end without </stream:stream>). Stream
  // management state is kept, so a later connect() tries to resume.
  void abort_connection();

  // Bytes of incoming top-level elements seen since construction (serialised size).
  std::size_t bytes_received() const { return bytes_received_; }

  void handleTag(gloox::Tag* tag) override;

 private:
  void rosterFilled() override;

  PresenceGate* gate_ = nullptr;
  TagObserver* observer_ = nullptr;
  bool held_ = false;
  std::size_t bytes_received_ = 0;
};

}  // namespace rpsync::client
