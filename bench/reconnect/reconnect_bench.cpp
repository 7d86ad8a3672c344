// rpsync_reconnect_bench: the reconnect of alice (a gloox client) with N online contacts,
// k of which changed status while she was away, against a real Prosody 0.12 on loopback
// with rpsync-component attached and mod_rpsync_gate loaded on the host.
//
// Modes, each measured from TCP connect to "presence state complete":
//   plain  - rpsync::client::Client without RpsyncManager (a plain gloox login). Complete =
//            every contact's available presence arrived, then a ping to the server returned.
//   nogate - RpsyncManager with synced_marker = false (the initial presence is not marked,
//            so Prosody probes every contact as if mod_rpsync_gate were absent). Complete =
//            the delta was applied and verified, initial presence sent, every contact's
//            presence of the flood that still follows arrived, then a ping returned.
//   gate   - RpsyncManager with the marker; the gate drops the probes. Complete = the delta
//            was applied and verified, the marked initial presence sent, then a ping
//            returned (Prosody answers the probes it would send before the ping, so a flood
//            would be counted). No roster versioning (gloox has none): the full roster
//            result is part of every mode's bytes.
// Bytes are exact wire bytes server -> client, counted by a loopback TCP proxy between
// alice and Prosody's c2s port; stanzas are top-level elements gloox received (stream
// features and SASL included). Every wait has a deadline and every loop a count.
#include <arpa/inet.h>
#include <gloox/connectionlistener.h>
#include <gloox/event.h>
#include <gloox/eventhandler.h>
#include <gloox/jid.h>
#include <gloox/tag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_ext/client.h"
#include "client_ext/manager.h"
#include "client_ext/store.h"
#include "protocol/ns.h"
#include "protocol/xml.h"
#include "tests/harness/prosody_server.h"
#include "tests/harness/test_client.h"
#include "tests/harness/util.h"

namespace {

namespace fs = std::filesystem;
using rpsync::test::ProsodyServer;
using rpsync::test::TestClient;
using rpsync::xml::Element;
namespace ns = rpsync::ns;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr const char* kHost = "example.test";
constexpr const char* kComponent = "rpsync.example.test";
constexpr const char* kSecret = "bench-secret";
constexpr const char* kPassword = "pw";

struct Options {
  std::vector<int> contacts = {50, 500};
  std::vector<int> percents = {0, 5, 50};
  int rounds = 3;
  bool nagle = true;
  std::string csv = std::string(RPSYNC_BENCH_OUT_DIR) + "/bench_reconnect.csv";
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void progress(const std::string& what) {
  static const auto start = Clock::now();
  std::fprintf(stderr, "[%6.1fs] %s\n", seconds_since(start), what.c_str());
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_reconnect_bench: %s\n", why.c_str());
  std::exit(1);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// The harness config, logging at warn (debug logging would be measured too), with
// mod_rpsync_gate on the user host (as tests/plugin/prosody/gate_world.cpp does it).
void patch_prosody_config(const ProsodyServer& server, bool nagle) {
  const fs::path cfg = fs::path(server.dir()) / "prosody.cfg.lua";
  std::string text = replace_all(rpsync::test::util::read_file(cfg), "log = { debug = ",
                                 "log = { warn = ");
  auto first_host = text.find("\nVirtualHost ");
  if (first_host == std::string::npos) die("unexpected harness config in " + cfg.string());
  std::string out = nagle ? "" : "network_settings = { nagle = false }\n";
  out += text.substr(0, first_host + 1);
  out += "plugin_paths = { \"" RPSYNC_GATE_PLUGIN_DIR "\" }\n";
  std::istringstream lines(text.substr(first_host + 1));
  for (std::string line; std::getline(lines, line);) {
    out += line + "\n";
    if (line == std::string("VirtualHost \"") + kHost + "\"")
      out += "  modules_enabled = { \"rpsync_gate\" }\n";
  }
  std::ofstream(cfg, std::ios::trunc) << out;
}

// rpsync-component as a child process logging to a file (as in bench/component).
class Component {
 public:
  Component(const ProsodyServer& server, const fs::path& dir) : log_(dir / "component.log") {
    std::vector<std::string> args = {
        RPSYNC_COMPONENT_BIN, "--host", "127.0.0.1", "--port",
        std::to_string(server.component_port()), "--component", kComponent, "--domain", kHost,
        "--store", "sqlite:" + (dir / "rpsync.db").string(), "--log-level", "info",
        "--requests-per-minute", "100000"};
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) die("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      if (!std::freopen(log_.c_str(), "w", stderr)) ::_exit(127);
      ::setenv("RPSYNC_SECRET", kSecret, 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Component() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 250; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(Millis(20));
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Component(const Component&) = delete;
  Component& operator=(const Component&) = delete;

  std::string log() const { return rpsync::test::util::read_file(log_); }
  bool wait_connected(Millis timeout) const {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (log().find("connected privileged=yes") != std::string::npos) return true;
      std::this_thread::sleep_for(Millis(50));
    }
    return false;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

// A loopback TCP proxy for one connection at a time; counts the bytes Prosody sends to the
// client (exact wire bytes). TCP_NODELAY on both legs so it adds no Nagle delay itself.
class Proxy {
 public:
  explicit Proxy(uint16_t upstream) : upstream_(upstream) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listen_, 4) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      die("proxy: cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Proxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_);
  }
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  uint16_t port() const { return port_; }
  std::uint64_t down() const { return down_.load(); }
  void reset() { down_ = 0; }

 private:
  static void nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  static bool write_all(int fd, const char* p, std::size_t n) {
    for (int tries = 0; n > 0 && tries < 100000; ++tries) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return n == 0;
  }
  void run() {
    while (!stop_) {
      pollfd l{listen_, POLLIN, 0};
      if (::poll(&l, 1, 100) <= 0) continue;
      int c = ::accept(listen_, nullptr, nullptr);
      if (c < 0) continue;
      int u = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(upstream_);
      if (u < 0 || ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (u >= 0) ::close(u);
        ::close(c);
        continue;
      }
      nodelay(c);
      nodelay(u);
      pump(c, u);
      ::close(c);
      ::close(u);
    }
  }
  void pump(int c, int u) {
    char buf[65536];
    while (!stop_) {
      pollfd fds[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        if (i == 1) down_ += static_cast<std::uint64_t>(n);
        if (!write_all(i == 0 ? u : c, buf, static_cast<std::size_t>(n))) return;
      }
    }
  }

  uint16_t upstream_;
  uint16_t port_ = 0;
  int listen_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> down_{0};
  std::thread thread_;
};

std::string contact_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "c%04d", i);
  return buf;
}

// A contact presence shaped like a real client's: show, status, priority and caps.
Element contact_presence(const std::string& status, int variant) {
  static const char* kShows[] = {"", "away", "chat", "dnd", "xa"};
  Element p("presence", std::string(ns::kClient));
  if (const char* show = kShows[variant % 5]; *show)
    p.add(Element("show", std::string(ns::kClient))).set_text(show);
  p.add(Element("status", std::string(ns::kClient))).set_text(status);
  p.add(Element("priority", std::string(ns::kClient))).set_text("1");
  Element& caps = p.add(Element("c", std::string(ns::kCaps)));
  caps.set_attr("hash", "sha-1");
  caps.set_attr("node", "https://rpsync.example/bench-client");
  caps.set_attr("ver", "q07IKJEyjvHSyhy//CH0CxmKi8w=");
  return p;
}

bool ping(TestClient& c, const std::string& to, const std::string& id) {
  Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "get");
  iq.set_attr("to", to);
  iq.set_attr("id", id);
  iq.add(Element("ping", std::string(ns::kPing)));
  if (!c.send(iq)) return false;
  auto r = c.wait_for([&](const Element& e) { return e.name() == "iq" && e.attr("id") == id; },
                      Millis(15000));
  return r && r->attr("type") == "result";
}

// alice: counts top-level elements and available contact presence per session.
class Alice final : public rpsync::client::Client {
 public:
  using rpsync::client::Client::Client;
  void handleTag(gloox::Tag* tag) override {
    if (tag) {
      ++stanzas;
      if (!roster_at && tag->name() == "iq" && tag->findAttribute("type") == "result" &&
          tag->findChild("query", "xmlns", "jabber:iq:roster"))
        roster_at = Clock::now();
      if (tag->name() == "presence" && !tag->hasAttribute("type") &&
          tag->findAttribute("from").rfind("alice@", 0) != 0)
        ++contact_presences;
    }
    rpsync::client::Client::handleTag(tag);
  }
  std::size_t stanzas = 0;
  std::size_t contact_presences = 0;
  std::optional<Clock::time_point> roster_at;  // the roster result arrived
};

struct Events final : public rpsync::client::RpsyncHandler,
                      public gloox::ConnectionListener,
                      public gloox::EventHandler {
  void handleRpsyncSynced(const rpsync::client::SyncStats& s,
                          const std::vector<rpsync::client::PresenceChange>&) override {
    synced = true;
    synced_at = Clock::now();
    items = s.items;
  }
  void handleRpsyncFullResync(const rpsync::client::FullResync& f) override {
    full_resync = true;
    resync_reason = std::string(rpsync::client::to_string(f.reason));
  }
  void handleRpsyncPresence(const rpsync::client::PresenceChange&) override {}
  void handleRpsyncEnabled(bool) override { enabled = true; }
  void onConnect() override { connected = true; }
  void onDisconnect(gloox::ConnectionError) override { disconnected = true; }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void handleEvent(const gloox::Event& e) override {
    if (e.eventType() == gloox::Event::PingPong) pong = true;
  }
  void reset() {
    synced = full_resync = connected = disconnected = pong = false;
    items = 0;
    resync_reason.clear();
  }
  bool synced = false, full_resync = false, enabled = false, connected = false,
       disconnected = false, pong = false;
  std::size_t items = 0;
  std::string resync_reason;
  Clock::time_point synced_at{};
};

enum class Mode { kPlain, kNoGate, kGate };
const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kPlain: return "plain";
    case Mode::kNoGate: return "rpsync, no gate";
    case Mode::kGate: return "gate, no roster ver";
  }
  return "?";
}
const char* mode_key(Mode m) {
  switch (m) {
    case Mode::kPlain: return "plain";
    case Mode::kNoGate: return "nogate";
    case Mode::kGate: return "gate";
  }
  return "?";
}

struct Run {
  double bytes = 0, stanzas = 0, ms = 0, presences = 0;
  double roster_ms = 0, synced_ms = 0;  // connect -> roster result; -> delta applied
  bool ok = false;
  std::string why;
};

// One alice account: a client (reused across logins, as an application would) and, for the
// rpsync modes, a manager with an in-memory session store.
class Session {
 public:
  Session(Mode mode, uint16_t port) : mode_(mode) {
    client_ = std::make_unique<Alice>(gloox::JID(std::string("alice@") + kHost + "/bench"),
                                      kPassword, port);
    client_->setServer("127.0.0.1");
    client_->setTls(gloox::TLSDisabled);
    client_->setCompression(false);
    client_->setPresence(gloox::Presence::Available, 0, "");
    client_->registerConnectionListener(&ev_);
    if (mode != Mode::kPlain) {
      rpsync::client::RpsyncOptions ro;
      ro.component = kComponent;
      ro.synced_marker = mode == Mode::kGate;
      ro.settle_quiet = Millis(300);
      manager_ = std::make_unique<rpsync::client::RpsyncManager>(*client_, &store_, &ev_, ro);
    }
  }

  // Pumps gloox until `done` or the deadline; false on timeout or an unexpected drop.
  template <class F>
  bool loop(F done, Millis timeout) {
    auto deadline = Clock::now() + timeout;
    for (int i = 0; i < 1000000 && Clock::now() < deadline; ++i) {
      if (done()) return true;
      if (ev_.disconnected) return false;
      gloox::ConnectionError e = client_->recv(2000);  // microseconds
      if (manager_) manager_->tick();
      if (e != gloox::ConnNoError) ev_.disconnected = true;
    }
    return done();
  }

  // A full login that ends with rpsync enabled (the state an rpsync client leaves with).
  void prepare() {
    ev_.reset();
    if (!client_->connect(false)) die("alice: connect failed");
    if (!loop([&] { return ev_.enabled; }, Millis(30000))) die("alice: rpsync not enabled");
    leave();
  }

  // Measured reconnect of `contacts` online contacts.
  Run reconnect(Proxy& proxy, std::size_t contacts) {
    Run r;
    ev_.reset();
    client_->stanzas = 0;
    client_->contact_presences = 0;
    client_->roster_at.reset();
    bool pinged = false;
    proxy.reset();
    const auto t0 = Clock::now();
    if (!client_->connect(false)) die("alice: connect failed");
    auto state_ready = [&] {
      switch (mode_) {
        case Mode::kPlain: return ev_.connected && client_->contact_presences >= contacts;
        case Mode::kNoGate:
          return ev_.synced && ev_.connected && client_->contact_presences >= contacts;
        case Mode::kGate: return ev_.synced && ev_.connected;
      }
      return false;
    };
    bool ok = loop(
        [&] {
          if (ev_.full_resync) return true;
          if (!pinged && state_ready()) {
            client_->xmppPing(gloox::JID(kHost), &ev_);
            pinged = true;
          }
          return ev_.pong;
        },
        Millis(30000));
    r.ms = seconds_since(t0) * 1000;
    r.bytes = static_cast<double>(proxy.down());
    r.stanzas = static_cast<double>(client_->stanzas);
    r.presences = static_cast<double>(client_->contact_presences);
    auto ms_since = [&](Clock::time_point t) {
      return std::chrono::duration<double>(t - t0).count() * 1000;
    };
    if (client_->roster_at) r.roster_ms = ms_since(*client_->roster_at);
    if (ev_.synced) r.synced_ms = ms_since(ev_.synced_at);
    r.ok = ok && ev_.pong && !ev_.full_resync;
    if (ev_.full_resync) r.why = "full resync: " + ev_.resync_reason;
    else if (!ok) r.why = "timeout or disconnect";
    leave();
    return r;
  }

  std::size_t items() const { return ev_.items; }

 private:
  // Graceful logout (rpsync: final checkpoint first) and wait for the stream to end.
  void leave() {
    if (manager_) manager_->logout();
    else client_->disconnect();
    loop([&] { return ev_.disconnected; }, Millis(10000));
    ev_.disconnected = false;
  }

  Mode mode_;
  Events ev_;
  rpsync::client::MemorySessionStore store_;
  std::unique_ptr<Alice> client_;
  std::unique_ptr<rpsync::client::RpsyncManager> manager_;
};

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

struct Row {
  int n = 0, percent = 0, k = 0;
  Mode mode = Mode::kPlain;
  Run med;  // medians
  std::size_t failed = 0, wrong_items = 0;
};

std::vector<int> parse_list(const std::string& s, int lo, int hi) {
  std::vector<int> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    int v = std::atoi(part.c_str());
    if (v < lo || v > hi) die("value " + part + " out of " + std::to_string(lo) + ".." +
                              std::to_string(hi));
    out.push_back(v);
  }
  if (out.empty()) die("empty list");
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--contacts") o.contacts = parse_list(value(), 10, 2000);
    else if (a == "--percent") o.percents = parse_list(value(), 0, 100);
    else if (a == "--rounds") o.rounds = parse_list(value(), 1, 50).front();
    else if (a == "--csv") o.csv = value();
    else if (a == "--no-nagle") o.nagle = false;
    else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: rpsync_reconnect_bench [--contacts 50,500] [--percent 0,5,50] [--rounds 3]\n"
          "       [--no-nagle] [--csv PATH]\n"
          "  --contacts up to 2000 (one Prosody per N); medians of --rounds reconnects\n");
      std::exit(0);
    } else die("unknown argument " + a + " (see --help)");
  }
  return o;
}

std::vector<Row> bench_n(const Options& o, int n) {
  rpsync::test::ProsodyOptions po;
  po.component_jid = kComponent;
  po.component_secret = kSecret;
  std::string why;
  auto server = ProsodyServer::create(po, &why);
  if (!server) die(why);
  const std::string alice = std::string("alice@") + kHost;
  const std::string watcher = std::string("w0@") + kHost;
  server->add_user("alice", kHost, kPassword);
  server->add_user("w0", kHost, kPassword);
  for (int i = 0; i < n; ++i) {
    const std::string bare = contact_name(i) + "@" + kHost;
    server->add_user(contact_name(i), kHost, kPassword);
    server->add_roster_item(alice, bare, "both");
    server->add_roster_item(bare, alice, "both");
    server->add_roster_item(bare, watcher, "from");
    server->add_roster_item(watcher, bare, "to");
  }
  patch_prosody_config(*server, o.nagle);
  if (!server->launch()) die("prosody did not start:\n" + server->log());
  const fs::path work = fs::path(server->dir()) / "component";
  fs::create_directories(work);
  Component component(*server, work);
  if (!component.wait_connected(Millis(15000)))
    die("component did not connect with privileges:\n" + component.log());

  auto w0 = TestClient::login(server->c2s_port(), "w0", kHost, kPassword, "watch", &why);
  if (!w0) die("watcher: " + why);
  w0->send_presence();
  std::vector<std::unique_ptr<TestClient>> contacts;
  for (int i = 0; i < n; ++i) {
    auto c = TestClient::login(server->c2s_port(), contact_name(i), kHost, kPassword, "phone", &why);
    if (!c) die("login: " + why);
    c->send(contact_presence("initial status of " + contact_name(i) + ", back soon", i));
    contacts.push_back(std::move(c));
  }
  for (int i = 0; i < 200000 && w0->next(Millis(50)); ++i) {
  }
  if (!ping(*w0, kComponent, "settle")) die("component did not answer a ping");
  progress("N=" + std::to_string(n) + ": prosody (gate loaded) + component + contacts up");

  Proxy proxy(server->c2s_port());
  int change_no = 0, offset = 0;
  // k contacts change status; the watcher sees all of them and a ping to the component
  // after that means the component has them too (it answers in stream order).
  auto change = [&](int k) {
    const std::string tag = "X" + std::to_string(++change_no) + " ";
    for (int j = 0; j < k; ++j) {
      int i = (offset + j) % n;
      contacts[static_cast<std::size_t>(i)]->send(
          contact_presence(tag + "new status of " + contact_name(i), i + change_no));
    }
    offset += k;
    int seen = 0;
    auto deadline = Clock::now() + Millis(20000);
    while (seen < k && Clock::now() < deadline) {
      auto e = w0->next(Millis(500));
      if (!e) continue;
      auto st = e->child_text("status");
      if (e->name() == "presence" && st && st->starts_with(tag)) ++seen;
    }
    if (seen != k) die("watcher missed changes");
    if (!ping(*w0, kComponent, "c" + std::to_string(change_no))) die("component ping failed");
  };

  // Both rpsync sessions are logged out whenever contacts change, and all three modes
  // reconnect to the same contact state (one change, then plain, nogate, gate).
  const Mode modes[] = {Mode::kPlain, Mode::kNoGate, Mode::kGate};
  Session nogate(Mode::kNoGate, proxy.port()), gate(Mode::kGate, proxy.port());
  nogate.prepare();
  gate.prepare();
  std::vector<Row> rows;
  for (int pct : o.percents) {
    const int k = n * pct / 100;
    Row row[3];
    std::vector<double> b[3], st[3], ms[3], pr[3], ro[3], sy[3];
    for (int r = 0; r < o.rounds; ++r) {
      change(k);
      for (int m = 0; m < 3; ++m) {
        Run run;
        if (modes[m] == Mode::kPlain) {
          Session plain(Mode::kPlain, proxy.port());
          run = plain.reconnect(proxy, static_cast<std::size_t>(n));
        } else {
          Session& s = modes[m] == Mode::kGate ? gate : nogate;
          run = s.reconnect(proxy, static_cast<std::size_t>(n));
          if (run.ok && s.items() != static_cast<std::size_t>(k)) ++row[m].wrong_items;
        }
        if (!run.ok) {
          ++row[m].failed;
          progress(std::string(mode_name(modes[m])) + " k=" + std::to_string(k) + ": " + run.why);
          continue;
        }
        b[m].push_back(run.bytes);
        st[m].push_back(run.stanzas);
        ms[m].push_back(run.ms);
        pr[m].push_back(run.presences);
        ro[m].push_back(run.roster_ms);
        sy[m].push_back(run.synced_ms);
      }
    }
    for (int m = 0; m < 3; ++m) {
      row[m].n = n;
      row[m].percent = pct;
      row[m].k = k;
      row[m].mode = modes[m];
      row[m].med.bytes = median(b[m]);
      row[m].med.stanzas = median(st[m]);
      row[m].med.ms = median(ms[m]);
      row[m].med.presences = median(pr[m]);
      row[m].med.roster_ms = median(ro[m]);
      row[m].med.synced_ms = median(sy[m]);
      rows.push_back(row[m]);
      progress("N=" + std::to_string(n) + " " + mode_name(modes[m]) + " k=" + std::to_string(k) +
               ": " + std::to_string(static_cast<long>(row[m].med.bytes)) + " bytes, " +
               std::to_string(row[m].med.ms) + " ms");
    }
  }
  for (auto& c : contacts) c->abort();
  w0->abort();
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  const auto wall0 = Clock::now();
  std::vector<Row> rows;
  for (int n : o.contacts) {
    auto r = bench_n(o, n);
    rows.insert(rows.end(), r.begin(), r.end());
  }

  auto plain_of = [&](const Row& row) -> const Row* {
    for (const auto& p : rows)
      if (p.n == row.n && p.percent == row.percent && p.mode == Mode::kPlain) return &p;
    return nullptr;
  };
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::printf(
      "\nrpsync reconnect benchmark: Prosody 0.12 + rpsync-component + mod_rpsync_gate on "
      "loopback, Nagle %s, median of %d reconnects per row\n"
      "bytes = wire bytes server->client from TCP connect to 'presence state complete'\n\n",
      o.nagle ? "on (Prosody default)" : "off", o.rounds);
  std::printf("%5s %4s %5s %-20s %9s %8s %9s %9s %8s %8s %9s %9s %6s %5s\n", "N", "k%", "k",
              "mode", "bytes", "stanzas", "presences", "ms", "bytes/pl", "ms/pl", "roster ms",
              "synced ms", "failed", "wrong");
  std::ofstream csv(o.csv);
  csv << "n,percent,k,mode,bytes,stanzas,contact_presences,ms,bytes_ratio,ms_ratio,"
         "stanzas_ratio,roster_ms,synced_ms,failed,wrong_items,nagle\n";
  bool bad = false;
  for (const auto& row : rows) {
    const Row* p = plain_of(row);
    const double br = p ? ratio(row.med.bytes, p->med.bytes) : 0;
    const double mr = p ? ratio(row.med.ms, p->med.ms) : 0;
    const double sr = p ? ratio(row.med.stanzas, p->med.stanzas) : 0;
    std::printf("%5d %4d %5d %-20s %9.0f %8.0f %9.0f %9.1f %8.3f %8.3f %9.1f %9.1f %6zu %5zu\n",
                row.n, row.percent, row.k, mode_name(row.mode), row.med.bytes, row.med.stanzas,
                row.med.presences, row.med.ms, br, mr, row.med.roster_ms, row.med.synced_ms,
                row.failed, row.wrong_items);
    csv << row.n << "," << row.percent << "," << row.k << "," << mode_key(row.mode) << ","
        << row.med.bytes << "," << row.med.stanzas << "," << row.med.presences << ","
        << row.med.ms << "," << br << "," << mr << "," << sr << "," << row.med.roster_ms << ","
        << row.med.synced_ms << "," << row.failed << ","
        << row.wrong_items << "," << (o.nagle ? 1 : 0) << "\n";
    if (row.failed || row.wrong_items) bad = true;
  }
  std::printf("\nwall time %.1f s; CSV: %s\n", seconds_since(wall0), o.csv.c_str());
  return bad ? 3 : 0;
}
