// SPDX-License-Identifier: MIT
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
// Roster versioning (RFC 6121 §2.6) with a RosterCache (set_roster_cache()). gloox 1.0.24
// has none, and cannot be bent to it from outside its RosterManager: RosterManager::fill()
// builds its <query/> (a private class) without 'ver' and sends it through non-virtual
// ClientBase::send(), and Client::connected() calls fill() whenever the private flag
// m_manageRoster is set. So this class:
//   1. calls gloox's public disableRoster() in its constructor (m_manageRoster = false,
//      gloox's RosterManager deleted) and owns a gloox::RosterManager of its own, created
//      with the same public constructor; rosterManager() below HIDES gloox's non-virtual
//      one and returns it. (Through a gloox::Client& the old accessor returns null.)
//   2. With m_manageRoster false gloox's connected() calls the virtual rosterFilled()
//      at the point where it would have called fill(); the override does what fill() does
//      (empty the roster map, ask private storage for the XEP-0083 delimiter, send the get)
//      except that the get carries ver='…' or ver='' when RosterVersioning decides so, and
//      that the delimiter get is left out when a roster cache is set (gloox's RosterManager
//      only stores the answer for RosterManager::delimiter(), which then stays empty; Prosody
//      without mod_private answers a 201-byte error on every login). The
//      get is sent with the public ClientBase::send(IQ&, IqHandler*, context) tracked to
//      our RosterManager with context 0, which is RosterManager's private enumerator
//      RequestRoster (the first one) in every gloox 1.0.x release: gloox then handles the
//      result exactly as after fill() (merge, rosterFilled(), RosterListener::handleRoster).
//   3. An empty result (version unchanged) is replaced in handleTag(), before gloox
//      parses it, by a copy carrying the cached <query ver=…><item/>…</query>, so the
//      RosterManager, roster listeners and rosterFilled() see a full roster. The byte
//      counters and the TagObserver see the element as received; gloox's XML log shows
//      the substituted one.
//   4. Roster pushes are left to gloox (it merges and acknowledges them) and also applied
//      to the cache (roster_versioning.h).
// Without a cache the same path sends gloox's plain <query/>: the wire and the callbacks
// are those of an unmodified gloox::Client.
//
// SCRAM-SHA-1 with cached keys (RFC 5802 §5.1; scram.h). gloox 1.0.24 derives the salted
// password on every login (PBKDF2, 4096 rounds of its own SHA-1: 35-45 ms) and keeps its
// SCRAM state in private members, so it cannot be told to reuse a key. With a ScramCache
// (default: an in-process MemoryScramCache; set_scram_cache(nullptr) = gloox's own
// SASL) this class runs the SCRAM-SHA-1 exchange itself in handleTag(): when the
// pre-authentication <stream:features/> would make gloox start SCRAM-SHA-1 (no STARTTLS
// or compression step pending, SCRAM-SHA-1 offered and allowed by setSASLMechanisms(),
// SCRAM-SHA-1-PLUS not usable, no authzid, user name and password printable ASCII so
// SASLprep is the identity), it sends <auth/> instead of handing the features to gloox,
// answers the challenge with a proof from the cached SaltedPassword (or derives and, once
// the server accepted it, caches one), and on <success/> verifies the server signature
// before doing what gloox does (authenticated, stream restart). A signature mismatch ends
// the connection with ConnAuthenticationFailed, as in gloox. A <failure/> to a proof made
// from a cached key (password changed, salt kept) erases the entry and authenticates once
// more on the same stream with a derived key (RFC 6120 §6.4.5 lets a client retry). In
// every other case gloox's own SASL runs, unchanged.
//
// Legacy session establishment (RFC 3921 <session/>): gloox sends it whenever the
// features list <session/>, also when the server marks it <optional/> (RFC 6121,
// Appendix E: a client may then skip it). Unless set_skip_optional_session(false), this
// class hands gloox the features without an optional <session/>, which saves a round
// trip and ~200 bytes per login; a <session/> without <optional/> is still established.
//
// TCP_NODELAY: gloox leaves Nagle's algorithm on, so a stanza written right after
// another (the ping or checkpoint after the initial presence) waits for the server's
// delayed ACK of the first (~40 ms). Unless set_tcp_nodelay(false), this class turns
// Nagle off on gloox's TCP socket when the server's stream header arrives.
//
// Threading: like gloox::Client, single-threaded; every callback runs inside recv().
#pragma once

#include <gloox/client.h>
#include <gloox/privatexml.h>
#include <gloox/rostermanager.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "roster_versioning.h"
#include "scram.h"

namespace rpsync::client {

// Decides whether initial presence goes out as soon as the roster arrived.
class PresenceGate {
 public:
  virtual ~PresenceGate() = default;
  // A new (not resumed) session may send stanzas: called once per login, after resource
  // binding and session establishment, right BEFORE the roster get is sent, so that a
  // request sent from here (the rpsync sync) travels pipelined with the roster get.
  virtual void session_started() {}
  // Called where gloox would send initial presence (the roster arrived). Return true to
  // hold it; the gate must then call Client::release_initial_presence() exactly once,
  // later or already from inside this call.
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

  // ---- roster versioning (see the header comment) ----
  // The roster cache (not owned; must outlive the client or be reset to null). Null, the
  // default, means plain gloox behaviour. Takes effect at the next login.
  void set_roster_cache(RosterCache* cache) { roster_ver_.set_cache(cache); }
  // gloox's roster, as gloox::Client::rosterManager() would return it (see above).
  gloox::RosterManager* rosterManager() { return roster_.get(); }
  // Whether the last stream's features advertised urn:xmpp:features:rosterver.
  bool server_supports_roster_versioning() const { return server_rosterver_; }
  // Whether the last stream's features announced <synced xmlns='urn:xmpp:rpsync:0'/>
  // (the server skips the presence flood for a marked initial presence).
  bool server_announces_synced() const { return server_synced_feature_; }
  // Kind of the last login's roster get (kVersioned: it offered a cached version).
  RosterRequestKind roster_request_kind() const { return roster_ver_.stats().last_request; }
  bool roster_versioned_get() const {
    return roster_request_kind() == RosterRequestKind::kVersioned;
  }
  // Whether the last login's roster came from the cache (the server's result was empty).
  bool roster_from_cache() const { return roster_ver_.stats().from_cache; }
  // Counters of the last roster request: result size as received, pushes, cache status.
  const RosterStats& roster_stats() const { return roster_ver_.stats(); }
  // The cached roster as it stands in this session (null when versioning is not in use).
  const CachedRoster* cached_roster() const { return roster_ver_.live(); }

  // ---- SCRAM-SHA-1 key cache (see the header comment) ----
  // Not owned; must outlive the client. Default: an in-process cache owned by the client.
  // Null: gloox's own SASL on every login (a plain gloox login). Takes effect at the next
  // login.
  void set_scram_cache(ScramCache* cache) { scram_cache_ = cache; }
  ScramCache* scram_cache() const { return scram_cache_; }
  // Counters of the SCRAM exchanges this class ran (not gloox's).
  const scram::Stats& scram_stats() const { return scram_stats_; }

  // Skip a <session/> the server marks optional (default true; see the header comment).
  // Takes effect at the next stream features.
  void set_skip_optional_session(bool skip) { skip_optional_session_ = skip; }
  // TCP_NODELAY on gloox's socket (default true; see the header comment).
  void set_tcp_nodelay(bool on) { tcp_nodelay_ = on; }

  void handleTag(gloox::Tag* tag) override;

 private:
  struct ScramLogin {
    enum class Step : std::uint8_t { kNone, kAuthSent, kResponseSent, kVerified };
    Step step = Step::kNone;
    std::string account;  // cache key: authcid or user name, '@', server
    std::string gs2_header;
    std::string client_first_bare;
    std::string nonce;
    std::string salt;
    std::uint32_t iterations = 0;
    std::string salted;
    std::string server_signature;
    bool from_cache = false;
    bool retried = false;
  };
  // The pre-auth features would make gloox start SCRAM-SHA-1 and we may run it instead.
  bool scram_takes_over(const gloox::Tag& features) const;
  void scram_start(bool retry);
  // Handles a SASL element of an exchange this class runs; false = not ours (gloox's).
  bool scram_handle(const gloox::Tag& tag);
  // One SASL step each (`payload`: the element's decoded text).
  void scram_server_first(const std::string& payload);  // challenge: server-first-message
  void scram_server_final(const std::string& payload);  // challenge: server-final-message
  void scram_success(const std::string& payload);       // <success/>, verified
  void scram_retry_derived();  // the cached key was rejected: again with a derived one
  void scram_fail();
  void rosterFilled() override;
  void request_roster();
  void set_nodelay();  // TCP_NODELAY on gloox's socket, best effort

  PresenceGate* gate_ = nullptr;
  TagObserver* observer_ = nullptr;
  bool held_ = false;
  std::size_t bytes_received_ = 0;

  std::unique_ptr<gloox::RosterManager> roster_;
  std::unique_ptr<gloox::PrivateXML> private_xml_;  // for the XEP-0083 delimiter, as fill()
  RosterVersioning roster_ver_;
  bool server_rosterver_ = false;
  bool server_synced_feature_ = false;
  bool roster_requested_ = false;  // a roster get of this stream is unanswered
  bool skip_optional_session_ = true;
  bool tcp_nodelay_ = true;

  MemoryScramCache own_scram_cache_;
  ScramCache* scram_cache_ = &own_scram_cache_;
  ScramLogin scram_;
  scram::Stats scram_stats_;
};

}  // namespace rpsync::client
