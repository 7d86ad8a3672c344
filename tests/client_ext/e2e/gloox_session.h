// SPDX-License-Identifier: MIT
// Test helper: one gloox client with the rpsync manager attached, driven by pump(),
// recording what the manager reports and every stanza the client sends.
#pragma once

#include <gloox/connectionlistener.h>
#include <gloox/loghandler.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client_ext/client.h"
#include "client_ext/manager.h"
#include "client_ext/store.h"

namespace rpsync::client::testing {

class Recorder final : public RpsyncHandler,
                       public gloox::ConnectionListener,
                       public gloox::LogHandler {
 public:
  void handleRpsyncSynced(const SyncStats& s, const std::vector<PresenceChange>& c) override {
    synced.push_back(s);
    synced_changes.push_back(c);
    events.push_back("synced");
  }
  void handleRpsyncFullResync(const FullResync& f) override {
    full_resyncs.push_back(f);
    events.push_back("full-resync:" + std::string(to_string(f.reason)));
  }
  void handleRpsyncPresence(const PresenceChange& c) override { presence.push_back(c); }
  void handleRpsyncEnabled(bool matched) override {
    enabled.push_back(matched);
    events.push_back("enabled");
  }
  void handleRpsyncResumed() override {
    ++resumed;
    events.push_back("resumed");
  }
  void handleRpsyncComponent(const std::string& jid) override {
    components.push_back(jid);
    events.push_back("component:" + jid);
  }

  void onConnect() override {
    connected = true;
    ++connects;
    events.push_back("connect");
  }
  void onDisconnect(gloox::ConnectionError e) override {
    connected = false;
    ++disconnects;
    last_error = e;
    events.push_back("disconnect");
  }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void onStreamEvent(gloox::StreamEvent e) override {
    if (e == gloox::StreamEventSMResumeFailed) events.push_back("sm-resume-failed");
  }
  void handleLog(gloox::LogLevel, gloox::LogArea area, const std::string& message) override {
    if (area == gloox::LogAreaXmlOutgoing) {
      outgoing.push_back(message);
      wire.push_back(">> " + message);
    }
    if (area == gloox::LogAreaXmlIncoming) wire.push_back("<< " + message);
  }

  // Index in `wire` of the first entry starting with `dir` ("<< " or ">> ") and
  // containing `needle`, or -1.
  long find_wire(const std::string& dir, const std::string& needle) const {
    for (std::size_t i = 0; i < wire.size(); ++i)
      if (wire[i].starts_with(dir) && wire[i].find(needle) != std::string::npos)
        return static_cast<long>(i);
    return -1;
  }

  // Index of the first outgoing stanza containing `needle` at or after `from`, or -1.
  long find_outgoing(const std::string& needle, std::size_t from = 0) const {
    for (std::size_t i = from; i < outgoing.size(); ++i)
      if (outgoing[i].find(needle) != std::string::npos) return static_cast<long>(i);
    return -1;
  }

  std::vector<SyncStats> synced;
  std::vector<std::vector<PresenceChange>> synced_changes;
  std::vector<FullResync> full_resyncs;
  std::vector<PresenceChange> presence;
  std::vector<bool> enabled;
  std::vector<std::string> components;
  std::vector<std::string> events;
  std::vector<std::string> outgoing;
  std::vector<std::string> wire;  // both directions in order, prefixed ">> " / "<< "
  int resumed = 0;
  int connects = 0;
  int disconnects = 0;
  bool connected = false;
  gloox::ConnectionError last_error = gloox::ConnNoError;
};

// Short timers so scenario tests run in seconds.
inline RpsyncOptions fast_options() {
  RpsyncOptions o;
  o.settle_quiet = std::chrono::milliseconds(300);
  o.settle_max = std::chrono::milliseconds(3000);
  o.checkpoint_quiet = std::chrono::milliseconds(300);
  o.request_timeout = std::chrono::milliseconds(3000);
  o.logout_timeout = std::chrono::milliseconds(2000);
  return o;
}

class GlooxSession {
 public:
  GlooxSession(const std::string& full_jid, const std::string& password, int port,
               SessionStore* store, RpsyncOptions options = fast_options(),
               bool stream_management = false)
      : client_(gloox::JID(full_jid), password, port) {
    client_.setServer("127.0.0.1");
    client_.setTls(gloox::TLSDisabled);
    client_.setCompression(false);
    if (stream_management) client_.setStreamManagement(true, true);
    client_.registerConnectionListener(&recorder_);
    client_.logInstance().registerLogHandler(
        gloox::LogLevelDebug, gloox::LogAreaXmlOutgoing | gloox::LogAreaXmlIncoming, &recorder_);
    manager_ = std::make_unique<RpsyncManager>(client_, store, &recorder_, std::move(options));
  }

  bool connect() { return client_.connect(false); }

  // Runs recv() + tick() until `done` or `timeout`; returns done().
  bool pump(const std::function<bool()>& done,
            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      client_.recv(10'000);  // microseconds
      manager_->tick();
      if (side) side();
    }
    return true;
  }
  void pump_for(std::chrono::milliseconds d) {
    pump([] { return false; }, d);
  }

  // Called on every pump iteration (e.g. to drive a component in the same thread).
  std::function<void()> side;

  Client& client() { return client_; }
  RpsyncManager& manager() { return *manager_; }
  Recorder& recorder() { return recorder_; }

 private:
  Recorder recorder_;
  Client client_;
  std::unique_ptr<RpsyncManager> manager_;
};

}  // namespace rpsync::client::testing
