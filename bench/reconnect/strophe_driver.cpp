// SPDX-License-Identifier: MIT
#include "bench/reconnect/strophe_driver.h"

#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "tests/client_strophe/e2e/rpsync_client.h"
#include "tests/client_strophe/e2e/strophe_session.h"

namespace rpsync::bench::strophe {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using test::strophe::ClientOptions;
using test::strophe::RpsyncClient;
using test::strophe::StropheSession;

double ms_from(Clock::time_point t0, std::optional<Clock::time_point> t) {
  return t ? std::chrono::duration<double, std::milli>(*t - t0).count() : 0;
}

bool has_child(xmpp_stanza_t* stanza, const char* name, const char* ns) {
  return xmpp_stanza_get_child_by_name_and_ns(stanza, name, ns) != nullptr;
}

// What the stanza handler notes during one reconnect.
struct Marks {
  std::size_t stanzas = 0;
  std::size_t presences = 0;
  std::size_t expect = 0;  // N: all_presences is when the Nth arrived
  std::optional<Clock::time_point> all_presences, roster, verified;
  void reset(std::size_t n) {
    *this = Marks{};
    expect = n;
  }
};

// --trace: every wire line on stderr, in ms from `t0`, shortened.
void trace_wire(StropheSession& s, const Clock::time_point& t0) {
  s.on_wire = [&t0](const std::string& line) {
    std::fprintf(stderr, "%9.2f ms  strophe %s%s\n", ms_from(t0, Clock::now()),
                 line.substr(0, 150).c_str(), line.size() > 150 ? "..." : "");
  };
}

// Counts stanzas, contact presence (the Nth's time), the plain roster result and the first
// <checkpointed/> answer of a session.
void watch(StropheSession& s, Marks& m) {
  s.collect_presence = false;
  const std::string own = s.bare() + "/";
  s.on_stanza = [&m, own](xmpp_stanza_t* st) {
    ++m.stanzas;
    const char* name = xmpp_stanza_get_name(st);
    const char* type = xmpp_stanza_get_type(st);
    const char* from = xmpp_stanza_get_from(st);
    if (std::strcmp(name, "presence") == 0 && !type && from &&
        std::strncmp(from, own.c_str(), own.size() - 1) != 0 && ++m.presences == m.expect)
      m.all_presences = Clock::now();
    if (!m.verified && std::strcmp(name, "presence") == 0 && !type && from &&
        std::strncmp(from, own.c_str(), own.size()) == 0 &&
        has_child(st, "synced", "urn:xmpp:rpsync:0"))
      m.verified = Clock::now();  // the server confirmed the marked presence
    if (std::strcmp(name, "iq") != 0 || !type || std::strcmp(type, "result") != 0) return;
    const char* id = xmpp_stanza_get_id(st);
    if (!m.roster && id && std::strcmp(id, "bench-roster") == 0) m.roster = Clock::now();
    if (!m.verified && has_child(st, "checkpointed", "urn:xmpp:rpsync:0"))
      m.verified = Clock::now();
  };
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kPlain:
      return "plain";
    case Kind::kNoGate:
      return "nogate";
    case Kind::kGateRosterVer:
      return "gate_rv";
    case Kind::kGate:
      return "gate";
  }
  return "?";
}

// A fresh directory on tmpfs when there is one; "" when none could be made.
std::string temp_dir() {
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string t = std::string(base) + "/rpsync-bench-strophe-XXXXXX";
    if (::mkdtemp(t.data()) != nullptr) return t;
  }
  return {};
}

ClientOptions client_options(const DriverOptions& o, const std::string& dir) {
  ClientOptions c;
  if (!dir.empty()) c.state_file = dir + "/alice-" + kind_name(o.kind) + ".db";
  c.full_jid = o.full_jid;
  c.password = o.password;
  c.port = o.port;
  c.component = o.component;
  c.roster = true;  // every kind fetches the roster, as the gloox client does
  c.fast_timers = false;
  c.wire_log = o.trace;
  c.synced_marker = o.kind != Kind::kNoGate;
  const bool roster_ver = o.kind == Kind::kGateRosterVer;
  c.tune = [roster_ver](rpsync_strophe_options_t& r) {
    r.settle_quiet_ms = 300;  // as the gloox driver: the first login's enable comes sooner
    r.roster_ver = roster_ver ? 1 : 0;
  };
  return c;
}

}  // namespace

struct StropheAlice::Impl {
  DriverOptions options;
  Marks marks;
  Clock::time_point t0{};                // of the reconnect in progress
  std::string dir;                       // the state file's directory (rpsync kinds)
  std::unique_ptr<RpsyncClient> rpsync;  // rpsync kinds, reused across logins

  Timeline plain(std::size_t contacts, Millis timeout);
  Timeline synced(std::size_t contacts, Millis timeout);
  bool ping_when(StropheSession& s, const std::function<bool()>& ready, Millis timeout);
};

StropheAlice::StropheAlice(DriverOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.kind == Kind::kPlain) return;
  impl_->dir = temp_dir();
  impl_->rpsync = std::make_unique<RpsyncClient>(client_options(impl_->options, impl_->dir));
  watch(impl_->rpsync->session(), impl_->marks);
  if (impl_->options.trace) trace_wire(impl_->rpsync->session(), impl_->t0);
}

StropheAlice::~StropheAlice() {
  impl_->rpsync.reset();
  std::error_code ec;
  if (!impl_->dir.empty()) std::filesystem::remove_all(impl_->dir, ec);
}

bool StropheAlice::prepare(std::string* why) {
  if (!impl_->rpsync) return true;
  RpsyncClient& a = *impl_->rpsync;
  if (a.open_result() != XMPP_EOK) {
    *why = "libstrophe alice: cannot open the state file in " + impl_->dir;
    return false;
  }
  impl_->t0 = Clock::now();
  if (!a.login_until_online(Millis(60000))) {
    *why = "libstrophe alice: rpsync not enabled";
    return false;
  }
  if (!a.logout()) {
    *why = "libstrophe alice: logout did not complete";
    return false;
  }
  return true;
}

// Pumps until `ready` (connecting included), then pings the server and pumps until the answer (or a
// drop).
bool StropheAlice::Impl::ping_when(StropheSession& s, const std::function<bool()>& ready,
                                   Millis timeout) {
  const auto end = Clock::now() + timeout;
  const int ended = s.disconnects();
  if (!s.pump([&] { return ready() || s.disconnects() > ended; }, timeout) || !s.connected())
    return false;
  const auto left = std::chrono::duration_cast<Millis>(end - Clock::now());
  return left.count() > 0 && s.ping(s.domain(), left);
}

Timeline StropheAlice::Impl::plain(std::size_t contacts, Millis timeout) {
  Timeline t;
  StropheSession s(options.full_jid, options.password, options.port, options.trace);
  watch(s, marks);
  if (options.trace) trace_wire(s, t0);
  marks.reset(contacts);
  t.t0 = t0 = Clock::now();
  s.on_connected = [&s] {
    s.send_raw("<iq type='get' id='bench-roster'><query xmlns='jabber:iq:roster'/></iq>");
    s.send_raw("<presence/>");
  };
  std::optional<Clock::time_point> connected;
  if (!s.connect()) return t;
  t.ok = ping_when(
      s,
      [&] {
        if (!connected && s.connected()) connected = Clock::now();
        return marks.all_presences.has_value();
      },
      timeout);
  t.ms = ms_from(t.t0, Clock::now());
  t.state_ms = ms_from(t.t0, marks.all_presences);
  t.roster_ms = ms_from(t.t0, marks.roster);
  t.presence_ms = ms_from(t.t0, connected);
  t.stanzas = marks.stanzas;
  t.presences = marks.presences;
  if (!t.ok) t.why = "plain libstrophe: timeout or disconnect";
  s.disconnect();
  return t;
}

Timeline StropheAlice::Impl::synced(std::size_t contacts, Millis timeout) {
  Timeline t;
  RpsyncClient& a = *rpsync;
  test::strophe::Reports& r = a.reports();
  const std::size_t from = r.events.size();
  marks.reset(contacts);
  t.t0 = t0 = Clock::now();
  if (!a.session().connect()) return t;
  auto state_ready = [&] {
    if (r.time_of("full-resync", from)) return true;  // fails below
    const bool synced = r.time_of("synced", from) && r.time_of("presence-sent", from);
    return synced && (options.kind != Kind::kNoGate || marks.presences >= contacts);
  };
  t.ok = ping_when(a.session(), state_ready, timeout) && !r.time_of("full-resync", from);
  t.ms = ms_from(t.t0, Clock::now());
  t.synced_ms = ms_from(t.t0, r.time_of("synced", from));
  t.state_ms = t.synced_ms;
  t.presence_ms = ms_from(t.t0, r.time_of("presence-sent", from));
  t.roster_ms = ms_from(t.t0, r.time_of("roster", from));
  t.stanzas = marks.stanzas;
  t.presences = marks.presences;
  if (!r.synced.empty() && r.time_of("synced", from)) t.items = r.synced.back().items;
  const rpsync_strophe_stats_t stats = a.stats();
  t.roster_bytes = stats.roster_result_bytes;
  t.roster_cached = stats.roster_from_cache != 0;
  if (!t.ok)
    t.why = r.full_resyncs.empty() ? "libstrophe rpsync: timeout or disconnect"
                                   : "full resync: " + r.full_resyncs.back().detail;
  if (t.ok && options.kind != Kind::kNoGate) {
    a.session().pump([&] { return marks.verified.has_value(); }, Millis(2000));
    t.verified_ms = ms_from(t.t0, marks.verified);
  }
  a.logout();
  return t;
}

Timeline StropheAlice::reconnect(std::size_t contacts, Millis timeout) {
  return impl_->options.kind == Kind::kPlain ? impl_->plain(contacts, timeout)
                                             : impl_->synced(contacts, timeout);
}

}  // namespace rpsync::bench::strophe
