// SPDX-License-Identifier: MIT
// rpsync-client: a minimal XMPP client with the rpsync extension.
//
//   rpsync-client --jid alice@example.test/laptop --password secret
//                 [--host 127.0.0.1] [--port 5222] [--state FILE]
//                 [--disconnect-after N [--abrupt] [--reconnect [--run-for M]]]
//                 [--component JID] [--sm] [--tls] [--verbose] [--max-seconds S]
//                 [--no-roster-ver]
//
// Prints one line per event: the sync result (or why a full resync was needed) and
// every live presence change. With --disconnect-after it leaves after N seconds,
// gracefully (final checkpoint, </stream:stream>) or with --abrupt by cutting the TCP
// connection; --reconnect then logs in again on the same client object (so --sm can
// resume) and stays M seconds (default N) before a graceful logout.
//
// Roster versioning (RFC 6121 §2.6) is on by default: the roster is cached in the --state
// file (in memory without one) and offered to the server by version on the next login;
// --no-roster-ver turns it off. The "roster:" line after "connected" says how it went.
#include <gloox/jid.h>
#include <gloox/loghandler.h>
#include <gloox/logsink.h>
#include <gloox/presence.h>
#include <gloox/rostermanager.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client_ext/client.h"
#include "client_ext/manager.h"
#include "client_ext/roster_cache.h"
#include "client_ext/sqlite_roster_cache.h"
#include "client_ext/sqlite_session_store.h"
#include "client_ext/store.h"

namespace {

using rpsync::client::PresenceChange;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string jid;
  std::string password;
  std::string host;
  int port = -1;
  std::string state;
  std::string component;
  std::optional<double> disconnect_after;
  bool abrupt = false;
  bool reconnect = false;
  std::optional<double> run_for;
  bool stream_management = false;
  bool tls = false;
  bool verbose = false;
  bool roster_ver = true;
  double max_seconds = 600;
  std::string show = "available";  // the presence this client shows its contacts
  std::string status;
  int priority = 0;
};

gloox::Presence::PresenceType presence_type(std::string_view show) {
  if (show == "chat") return gloox::Presence::Chat;
  if (show == "away") return gloox::Presence::Away;
  if (show == "xa") return gloox::Presence::XA;
  if (show == "dnd") return gloox::Presence::DND;
  return gloox::Presence::Available;
}

void usage() {
  std::cerr << "usage: rpsync-client --jid JID --password PW [--host H] [--port P] [--state FILE]\n"
               "         [--disconnect-after N [--abrupt] [--reconnect [--run-for M]]]\n"
               "         [--component JID] [--sm] [--tls] [--verbose] [--max-seconds S]\n"
               "         [--show available|chat|away|xa|dnd] [--status TEXT] [--priority N]\n"
               "         [--no-roster-ver]\n";
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (a == "--abrupt") {
      o.abrupt = true;
    } else if (a == "--reconnect") {
      o.reconnect = true;
    } else if (a == "--tls") {
      o.tls = true;
    } else if (a == "--sm") {
      o.stream_management = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--no-roster-ver") {
      o.roster_ver = false;
    } else if (!(v = value())) {
      std::cerr << "missing value for " << a << "\n";
      return std::nullopt;
    } else if (a == "--jid") {
      o.jid = *v;
    } else if (a == "--password") {
      o.password = *v;
    } else if (a == "--host") {
      o.host = *v;
    } else if (a == "--port") {
      o.port = std::atoi(v->c_str());
    } else if (a == "--state") {
      o.state = *v;
    } else if (a == "--component") {
      o.component = *v;
    } else if (a == "--disconnect-after") {
      o.disconnect_after = std::atof(v->c_str());
    } else if (a == "--run-for") {
      o.run_for = std::atof(v->c_str());
    } else if (a == "--max-seconds") {
      o.max_seconds = std::atof(v->c_str());
    } else if (a == "--show") {
      if (*v != "available" && *v != "chat" && *v != "away" && *v != "xa" && *v != "dnd") {
        std::cerr << "--show takes available, chat, away, xa or dnd\n";
        return std::nullopt;
      }
      o.show = *v;
    } else if (a == "--status") {
      o.status = *v;
    } else if (a == "--priority") {
      o.priority = std::atoi(v->c_str());
    } else {
      std::cerr << "unknown option " << a << "\n";
      return std::nullopt;
    }
  }
  if (o.jid.empty() || o.password.empty()) return std::nullopt;
  return o;
}

std::string describe(const rpsync::proto::PresenceFields& f) {
  std::string s = f.show == rpsync::proto::Show::kNone
                      ? "available"
                      : std::string(rpsync::proto::to_string(f.show));
  if (!f.status.empty()) s += " '" + f.status + "'";
  if (f.priority != 0) s += " prio=" + std::to_string(f.priority);
  return s;
}

void print_change(std::string_view prefix, const PresenceChange& c) {
  std::cout << prefix << rpsync::client::to_string(c.kind) << " " << c.jid;
  if (c.kind != PresenceChange::Kind::kUnavailable) std::cout << " " << describe(c.fields);
  std::cout << "\n";
}

class Printer final : public rpsync::client::RpsyncHandler,
                      public gloox::ConnectionListener,
                      public gloox::LogHandler {
 public:
  explicit Printer(rpsync::client::Client& client) : client_(client) {}

  void handleRpsyncSynced(const rpsync::client::SyncStats& s,
                          const std::vector<PresenceChange>& changes) override {
    std::cout << "rpsync: synced items=" << s.items << " bytes=" << s.bytes
              << " rtt_us=" << s.round_trip.count() << " resources=" << s.count
              << " changes=" << changes.size() << "\n";
    for (const auto& c : changes) print_change("  delta: ", c);
  }
  void handleRpsyncFullResync(const rpsync::client::FullResync& f) override {
    std::cout << "rpsync: full-resync reason=" << rpsync::client::to_string(f.reason);
    if (!f.detail.empty()) std::cout << " detail=" << f.detail;
    std::cout << "\n";
  }
  void handleRpsyncPresence(const PresenceChange& c) override { print_change("presence: ", c); }
  void handleRpsyncEnabled(bool matched) override {
    std::cout << "rpsync: enabled digest=" << (matched ? "match" : "mismatch") << "\n";
  }
  void handleRpsyncResumed() override { std::cout << "rpsync: stream resumed (no sync)\n"; }
  void handleRpsyncComponent(const std::string& jid) override {
    std::cout << "rpsync: component " << (jid.empty() ? "none" : jid) << "\n";
  }

  void onConnect() override {
    connected = true;
    std::cout << "connected jid=" << client_.jid().full() << " stream=" << client_.stream_id()
              << (client_.resumed() ? " resumed" : "") << "\n";
    if (client_.resumed()) return;
    const rpsync::client::RosterStats& r = client_.roster_stats();
    gloox::RosterManager* rm = client_.rosterManager();
    std::cout << "roster: request=" << rpsync::client::to_string(r.last_request)
              << " from_cache=" << (r.from_cache ? 1 : 0) << " result_bytes=" << r.result_bytes
              << " items=" << (rm != nullptr ? rm->roster()->size() : 0);
    if (!r.load_status.ok()) std::cout << " cache_discarded=" << r.load_status.message();
    std::cout << "\n";
  }
  void onDisconnect(gloox::ConnectionError e) override {
    connected = false;
    disconnected = true;
    last_error = e;
    std::cout << "disconnected error=" << static_cast<int>(e) << "\n";
  }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void onStreamEvent(gloox::StreamEvent e) override {
    if (e == gloox::StreamEventSMResumeFailed) std::cout << "sm: resume failed\n";
  }

  void handleLog(gloox::LogLevel, gloox::LogArea area, const std::string& message) override {
    if (area == gloox::LogAreaXmlIncoming) std::cout << "  << " << message << "\n";
    if (area == gloox::LogAreaXmlOutgoing) std::cout << "  >> " << message << "\n";
  }

  bool connected = false;
  bool disconnected = false;
  gloox::ConnectionError last_error = gloox::ConnNoError;

 private:
  rpsync::client::Client& client_;
};

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) {
  g_interrupted = 1;
}

// Runs the gloox loop until disconnected. Leaves after `leave_after` seconds (as asked),
// gracefully on SIGINT or at `deadline`; gives up (returns false) 5 s after that.
bool run(rpsync::client::Client& client, rpsync::client::RpsyncManager& manager, Printer& p,
         std::optional<double> leave_after, bool abrupt, Clock::time_point deadline) {
  const auto start = Clock::now();
  bool left = false;
  p.disconnected = false;
  if (!client.connect(false)) {
    std::cout << "connect failed\n";
    return false;
  }
  while (!p.disconnected) {
    if (Clock::now() >= deadline + std::chrono::seconds(5)) return false;
    if (!left && (g_interrupted != 0 || Clock::now() >= deadline)) {
      left = true;
      std::cout << "leaving: graceful (" << (g_interrupted ? "interrupted" : "time limit") << ")\n";
      manager.logout();
    }
    const gloox::ConnectionError e = client.recv(100'000);  // microseconds
    manager.tick();
    if (e != gloox::ConnNoError && !p.disconnected) {
      p.disconnected = true;
      p.last_error = e;
    }
    if (!left && leave_after && since(start) >= *leave_after) {
      left = true;
      if (abrupt) {
        std::cout << "leaving: tcp abort\n";
        client.abort_connection();
      } else {
        std::cout << "leaving: graceful\n";
        manager.logout();
      }
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> opt = parse_args(argc, argv);
  if (!opt) {
    usage();
    return 2;
  }
  std::cout.setf(std::ios::unitbuf);
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);

  gloox::JID jid(opt->jid);
  if (jid.resource().empty()) jid.setResource("rpsync-client");
  rpsync::client::Client client(jid, opt->password, opt->port);
  if (!opt->host.empty()) client.setServer(opt->host);
  // Plain TCP by default (loopback test servers); --tls negotiates STARTTLS when offered.
  // The certificate is not checked here (Printer::onTLSConnect accepts it): an example only.
  client.setTls(opt->tls ? gloox::TLSOptional : gloox::TLSDisabled);
  client.setCompression(false);
  if (opt->stream_management) client.setStreamManagement(true, true);
  client.setPresence(presence_type(opt->show), opt->priority, opt->status);

  std::unique_ptr<rpsync::client::SqliteDatabase> database;  // outlives the stores in it
  std::unique_ptr<rpsync::client::SessionStore> store;
  std::unique_ptr<rpsync::client::RosterCache> roster_cache;
  if (!opt->state.empty()) {
    database = std::make_unique<rpsync::client::SqliteDatabase>(opt->state);
    if (!database->open_status().ok()) {
      std::cout << "state: " << database->open_status().message() << " (continuing without)\n";
    }
    store = std::make_unique<rpsync::client::SqliteSessionStore>(*database);
    roster_cache = std::make_unique<rpsync::client::SqliteRosterCache>(*database);
  } else {
    store = std::make_unique<rpsync::client::MemorySessionStore>();
    roster_cache = std::make_unique<rpsync::client::MemoryRosterCache>();
  }
  if (opt->roster_ver) client.set_roster_cache(roster_cache.get());

  Printer printer(client);
  client.registerConnectionListener(&printer);
  if (opt->verbose) {
    client.logInstance().registerLogHandler(
        gloox::LogLevelDebug, gloox::LogAreaXmlIncoming | gloox::LogAreaXmlOutgoing, &printer);
  }
  rpsync::client::RpsyncOptions ro;
  ro.component = opt->component;
  rpsync::client::RpsyncManager manager(client, store.get(), &printer, ro);

  const auto hard_deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long>(opt->max_seconds * 1000));
  if (!run(client, manager, printer, opt->disconnect_after, opt->abrupt, hard_deadline)) {
    std::cout << "gave up\n";
    return 1;
  }
  if (opt->reconnect) {
    std::cout << "reconnecting\n";
    const std::optional<double> stay = opt->run_for ? opt->run_for : opt->disconnect_after;
    if (!run(client, manager, printer, stay.value_or(5.0), false, hard_deadline)) {
      std::cout << "gave up\n";
      return 1;
    }
  }
  std::cout << "bye presence_stanzas=" << manager.presence_stanzas()
            << " presence_bytes=" << manager.presence_bytes() << " syncs=" << manager.syncs_sent()
            << " enables=" << manager.enables_sent()
            << " checkpoints=" << manager.checkpoints_sent()
            << " server_skips_flood=" << manager.server_skips_flood()
            << " last_presence_marked=" << manager.presence_marked() << "\n";
  return 0;
}
