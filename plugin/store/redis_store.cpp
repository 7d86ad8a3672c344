// SPDX-License-Identifier: MIT
#include "plugin/store/redis_store.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "plugin/store/codec.h"
#include "plugin/store/redact.h"

namespace rpsync::store {
namespace {

// Every message starts "store: " (the texts a client gets in not-ready).
Status failure(StatusCode code, std::string text) {
  return Status(code, "store: " + std::move(text));
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

std::string_view str(const redisReply* r) {
  return r->str ? std::string_view(r->str, r->len) : std::string_view();
}

// The epoch only ever rises, whoever writes it (see the header).
constexpr std::string_view kRaiseEpoch =
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end return 0";

std::string session_field(std::string_view stream, std::string_view resource) {
  std::string f = std::to_string(stream.size());
  f += ':';
  f += stream;
  f += resource;
  return f;
}

bool parse_session_field(std::string_view f, std::string& stream, std::string& resource) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), n);
  if (ec != std::errc() || p == f.data() + f.size() || *p != ':') return false;
  std::string_view rest(p + 1, static_cast<std::size_t>(f.data() + f.size() - (p + 1)));
  if (rest.size() < n) return false;
  stream = rest.substr(0, n);
  resource = rest.substr(n);
  return true;
}

std::string_view bare_of(std::string_view jid) {
  return jid.substr(0, jid.find('/'));
}

bool valid_prefix(std::string_view p) {
  if (p.empty()) return false;
  for (char c : p)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

Status bad_uri(const std::string& shown, const std::string& why) {
  return failure(StatusCode::kInvalidArgument,
                 "bad redis URI '" + shown + "': " + why +
                     " (use redis://HOST:PORT[/DB][?password=..&prefix=..&timeout_ms=..])");
}

// The URI's query: password, prefix, timeout_ms, tls (refused unless 0). `shown` is the
// redacted URI for the error text.
Status parse_options(std::string_view query, const std::string& shown, RedisTarget& t) {
  while (!query.empty()) {
    std::string_view kv = query.substr(0, query.find('&'));
    query = kv.size() < query.size() ? query.substr(kv.size() + 1) : std::string_view();
    auto eq = kv.find('=');
    std::string_view k = kv.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    if (k == "password") {
      t.password = std::string(v);
    } else if (k == "prefix") {
      if (!valid_prefix(v)) return bad_uri(shown, "prefix must be [A-Za-z0-9_-]+");
      t.prefix = std::string(v);
    } else if (k == "timeout_ms") {
      if (!parse_int(v, t.timeout_ms) || t.timeout_ms <= 0) return bad_uri(shown, "timeout_ms");
    } else if (k == "tls") {
      if (v != "0")
        return failure(
            StatusCode::kInvalidArgument,
            "redis TLS is not supported by this build: libhiredis 0.14 (Debian 12) has no "
            "TLS; reach Redis over loopback or a TLS tunnel");
    } else {
      return bad_uri(shown, "unknown option '" + std::string(k) + "'");
    }
  }
  return Status{};
}

// A pipelined command: arguments kept alive until appended.
struct Cmd {
  std::vector<std::string> args;
};

// "IP:PORT" or "[IPv6]:PORT" (as CLIENT LIST prints it) and the port; port 0 for any
// other address family.
std::string address_as_redis_prints_it(const sockaddr_storage& addr, int& port) {
  char ip[INET6_ADDRSTRLEN] = {};
  port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    return "[" + std::string(ip) + "]:" + std::to_string(port);
  }
  return {};
}

// The command that applies one mutation (key layout in redis_store.h).
Cmd mutation_command(const RedisStore& st, const core::Mutation& m) {
  return std::visit(
      [&](const auto& x) -> Cmd {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, core::PutResource>) {
          return {{"HSET", st.resources_key(bare_of(x.jid)), x.jid, *resource_blob(x)}};
        } else if constexpr (std::is_same_v<T, core::EraseResource>) {
          if (auto row = resource_blob(x))
            return {{"HSET", st.resources_key(bare_of(x.jid)), x.jid, std::move(*row)}};
          return {{"HDEL", st.resources_key(bare_of(x.jid)), x.jid}};
        } else if constexpr (std::is_same_v<T, core::PutRoster>) {
          if (x.contacts.empty()) return {{"DEL", st.roster_key(x.user)}};
          return {{"SET", st.roster_key(x.user), encode_contacts(x.contacts)}};
        } else if constexpr (std::is_same_v<T, core::PutSession>) {
          const auto& s = x.session;
          return {{"HSET", st.sessions_key(s.user), session_field(s.stream, s.resource),
                   encode_txns(s.newest, s.previous)}};
        } else if constexpr (std::is_same_v<T, core::EraseSession>) {
          return {{"HDEL", st.sessions_key(x.user), session_field(x.stream, x.resource)}};
        } else {
          return {{"EVAL", std::string(kRaiseEpoch), "1", st.epoch_key(), std::to_string(x.epoch)}};
        }
      },
      m);
}

// How a pipelined MULTI ... EXEC went: the connection failed, or the first error reply
// (of a command, inside EXEC's results, or EXEC itself not returning them).
struct Sent {
  bool io_failed = false;
  std::string first_error;
};

Sent send_transaction(redisContext* ctx, const std::vector<Cmd>& cmds) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& c : cmds) {
    argv.clear();
    lens.clear();
    for (const auto& a : c.args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
  }
  Sent out;
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK) {
      out.io_failed = true;
      break;
    }
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR && out.first_error.empty())
      out.first_error = std::string(str(r.get()));
    if (i + 1 == cmds.size() && r->type == REDIS_REPLY_ARRAY) {
      for (std::size_t k = 0; k < r->elements; ++k)
        if (r->element[k]->type == REDIS_REPLY_ERROR && out.first_error.empty())
          out.first_error = std::string(str(r->element[k]));
    } else if (i + 1 == cmds.size() && out.first_error.empty()) {
      out.first_error = "EXEC did not return results";
    }
  }
  return out;
}

// ---- load(): SCAN pages, one pipelined read per key, values decoded into an Image ----

enum class KeyKind { kEpoch, kRoster, kSess, kRes, kOther };

// The fixed parts of the key names (redis_store.h): user and contact prefixes, the epoch.
struct ScanKeys {
  std::string upfx, cpfx, ekey;
};

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

KeyKind classify(std::string_view k, const ScanKeys& n) {
  if (k == n.ekey) return KeyKind::kEpoch;
  if (k.substr(0, n.upfx.size()) == n.upfx && ends_with(k, "}:roster")) return KeyKind::kRoster;
  if (k.substr(0, n.upfx.size()) == n.upfx && ends_with(k, "}:sess")) return KeyKind::kSess;
  if (k.substr(0, n.cpfx.size()) == n.cpfx && ends_with(k, "}:res")) return KeyKind::kRes;
  return KeyKind::kOther;
}

// Decodes the value read at `key` into `img`; false when it cannot be decoded.
bool take_value(KeyKind kind, std::string_view key, const redisReply* v, const ScanKeys& n,
                core::Image& img) {
  switch (kind) {
    case KeyKind::kEpoch: {
      std::uint64_t e = 0;
      auto s = str(v);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), e);
      img.epoch = e;
      return ec == std::errc() && p == s.data() + s.size();
    }
    case KeyKind::kRoster: {
      auto contacts = decode_contacts(str(v));
      if (!contacts) return false;
      std::string user(key.substr(n.upfx.size(), key.size() - n.upfx.size() - 8));
      img.rosters.push_back({std::move(user), std::move(*contacts)});
      return true;
    }
    case KeyKind::kSess: {
      std::string user(key.substr(n.upfx.size(), key.size() - n.upfx.size() - 6));
      for (std::size_t f = 0; f + 1 < v->elements; f += 2) {
        core::SessionRecord s;
        s.user = user;
        if (!parse_session_field(str(v->element[f]), s.stream, s.resource) ||
            !decode_txns(str(v->element[f + 1]), s.newest, s.previous))
          return false;
        img.sessions.push_back(std::move(s));
      }
      return true;
    }
    case KeyKind::kRes:
      for (std::size_t f = 0; f + 1 < v->elements; f += 2) {
        auto row = decode_resource(str(v->element[f + 1]));
        if (!row) return false;
        add_to_image(img, std::string(str(v->element[f])), std::move(*row));
      }
      return true;
    case KeyKind::kOther:
      break;
  }
  return true;
}

// How one page went: the connection failed, or an error (kCorrupt: a value cannot be
// decoded; kIoError: Redis refused a read).
struct PageOutcome {
  bool io_failed = false;
  std::string error;
  StatusCode code = StatusCode::kIoError;
};

// Pipelines one read per key of the page (skipping keys of no kind) and takes the replies.
void read_keys(redisContext* ctx, const std::vector<std::string>& keys, const ScanKeys& n,
               core::Image& img, PageOutcome& out) {
  std::vector<KeyKind> kinds;
  for (const auto& key : keys) {
    const KeyKind kind = classify(key, n);
    kinds.push_back(kind);
    const char* cmd = (kind == KeyKind::kEpoch || kind == KeyKind::kRoster) ? "GET" : "HGETALL";
    const char* a[] = {cmd, key.c_str()};
    const std::size_t l[] = {std::string_view(cmd).size(), key.size()};
    if (kind != KeyKind::kOther) redisAppendCommandArgv(ctx, 2, a, l);
  }
  for (std::size_t i = 0; i < keys.size() && !out.io_failed && out.error.empty(); ++i) {
    if (kinds[i] == KeyKind::kOther) continue;
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK) {
      out.io_failed = true;
      break;
    }
    Reply v(static_cast<redisReply*>(raw));
    if (v->type == REDIS_REPLY_ERROR) {
      out.error = "reading " + keys[i] + ": " + std::string(str(v.get()));
      continue;
    }
    if (v->type == REDIS_REPLY_NIL) continue;  // deleted since SCAN listed it
    if (!take_value(kinds[i], keys[i], v.get(), n, img)) {
      out.error = "corrupt value at key " + keys[i];
      out.code = StatusCode::kCorrupt;
    }
  }
}

// One SCAN page from `cursor` (advanced), its new keys read into `img`.
PageOutcome scan_page(redisContext* ctx, const std::string& match, const ScanKeys& n,
                      std::string& cursor, std::unordered_set<std::string>& seen,
                      core::Image& img) {
  PageOutcome out;
  const char* argv[] = {"SCAN", cursor.c_str(), "MATCH", match.c_str(), "COUNT", "1000"};
  Reply r(static_cast<redisReply*>(redisCommandArgv(ctx, 6, argv, nullptr)));
  if (!r) {
    out.io_failed = true;
    return out;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    out.error = "SCAN failed: " + std::string(str(r.get()));
    return out;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    out.error = "SCAN: unexpected reply";
    return out;
  }
  cursor = std::string(str(r->element[0]));
  std::vector<std::string> keys;
  for (std::size_t k = 0; k < r->element[1]->elements; ++k) {
    std::string key(str(r->element[1]->element[k]));
    if (seen.insert(key).second) keys.push_back(std::move(key));
  }
  read_keys(ctx, keys, n, img, out);
  return out;
}

}  // namespace

SigpipeGuard::SigpipeGuard() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe, &old_);
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

StatusOr<RedisTarget> parse_redis_uri(std::string_view uri) {
  constexpr std::string_view kScheme = "redis://";
  // Never echo a secret: the userinfo or the query may hold the password.
  const std::string shown = redact_uri(uri);
  auto bad = [&](const std::string& why) { return bad_uri(shown, why); };
  if (uri.substr(0, kScheme.size()) != kScheme) return bad("not redis://");
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  RedisTarget t;
  // redis://[[USER]:PASSWORD@]HOST:PORT: the last '@' before the path ends the userinfo.
  if (auto at = rest.substr(0, rest.find('/')).rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      t.password = std::string(userinfo);
    } else {
      t.username = std::string(userinfo.substr(0, colon));
      t.password = std::string(userinfo.substr(colon + 1));
    }
  }
  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!parse_int(db, t.db) || t.db < 0)) return bad("database is not a number");
  }
  auto colon = hostport.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("HOST:PORT required");
  std::string_view host = hostport.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  t.host = std::string(host);
  if (!parse_int(hostport.substr(colon + 1), t.port) || t.port <= 0 || t.port > 65535)
    return bad("port is not a number in 1..65535");
  if (auto q = parse_options(query, shown, t); !q.ok()) return q;
  return t;
}

RedisStore::RedisStore(RedisTarget target, const StoreOptions& options)
    : target_(std::move(target)), options_(options) {}

RedisStore::~RedisStore() {
  if (ctx_) redisFree(ctx_);
}

StatusOr<std::unique_ptr<Store>> RedisStore::open(const RedisTarget& target,
                                                  const StoreOptions& options) {
  auto s = open_redis(target, options);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(std::move(s.value()));
}

StatusOr<std::unique_ptr<RedisStore>> RedisStore::open_redis(const RedisTarget& target,
                                                             const StoreOptions& options) {
  std::unique_ptr<RedisStore> s(new RedisStore(target, options));
  if (auto c = s->connect(); !c.ok()) return c;
  return s;
}

std::string RedisStore::roster_key(std::string_view user) const {
  return target_.prefix + ":{u:" + std::string(user) + "}:roster";
}
std::string RedisStore::sessions_key(std::string_view user) const {
  return target_.prefix + ":{u:" + std::string(user) + "}:sess";
}
std::string RedisStore::resources_key(std::string_view bare) const {
  return target_.prefix + ":{c:" + std::string(bare) + "}:res";
}
std::string RedisStore::epoch_key() const {
  return target_.prefix + ":{meta}:epoch";
}

Status RedisStore::lost(std::string_view what) {
  std::string text =
      "redis " + target_.host + ":" + std::to_string(target_.port) + " " + std::string(what);
  StatusCode code = StatusCode::kUnavailable;
  if (ctx_) {
    if (ctx_->err == REDIS_ERR_IO && std::string_view(ctx_->errstr) == std::strerror(EAGAIN)) {
      text += ": no reply within " + std::to_string(target_.timeout_ms) + " ms";
      code = StatusCode::kTimeout;
    } else if (ctx_->err) {
      text += ": " + std::string(ctx_->errstr);
    }
    redisFree(ctx_);
    ctx_ = nullptr;  // state unknown: the next call starts on a fresh connection
  }
  if (client_id_ != 0) {
    stale_id_ = client_id_;
    stale_addr_ = client_addr_;
    client_id_ = 0;
  }
  return failure(code, std::move(text));
}

Done RedisStore::connect() {
  if (ctx_) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
  const timeval tv{target_.timeout_ms / 1000, (target_.timeout_ms % 1000) * 1000};
  ctx_ = redisConnectWithTimeout(target_.host.c_str(), target_.port, tv);
  if (!ctx_) return failure(StatusCode::kUnavailable, "redis: out of memory for a connection");
  if (ctx_->err) return lost("unreachable");
  redisSetTimeout(ctx_, tv);
  redisEnableKeepAlive(ctx_);
  SigpipeGuard guard;
  auto run = [&](std::vector<std::string> args) -> Done {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    Reply r(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) return lost("did not answer " + args[0]);
    if (r->type == REDIS_REPLY_ERROR)
      return lost(args[0] + " failed: " + std::string(str(r.get())));
    return Status{};
  };
  if (!target_.password.empty()) {
    auto a = target_.username.empty() ? run({"AUTH", target_.password})
                                      : run({"AUTH", target_.username, target_.password});
    if (!a.ok()) return a;
  }
  if (auto s = run({"SELECT", std::to_string(target_.db)}); !s.ok()) return s;
  // A server still loading its AOF answers LOADING to data commands: say so now.
  if (auto p = run({"PING"}); !p.ok()) return p;
  if (stale_id_ != 0) {
    // The connection we gave up on may still hold an unexecuted MULTI in the server's
    // input buffer; it must not run after the re-sent commit. Killing it is atomic with
    // respect to it (single-threaded server): it has either run completely or never will.
    // ADDR guards against an id reused after a server restart.
    Reply k(static_cast<redisReply*>(
        redisCommand(ctx_, "CLIENT KILL ID %lld ADDR %s", stale_id_, stale_addr_.c_str())));
    if (!k) return lost("did not answer CLIENT KILL");
    stale_id_ = 0;  // killed, already gone, or not permitted (ACL): nothing more to do
  }
  Reply id(static_cast<redisReply*>(redisCommand(ctx_, "CLIENT ID")));
  if (!id) return lost("did not answer CLIENT ID");
  if (id->type == REDIS_REPLY_INTEGER) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(ctx_->fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      int port = 0;
      if (std::string shown = address_as_redis_prints_it(addr, port); port != 0)
        client_addr_ = std::move(shown);
      client_id_ = port != 0 ? id->integer : 0;
    }
  }
  return Status{};
}

Done RedisStore::ensure_connected() {
  if (ctx_ && !ctx_->err) {
    // Between our requests the connection is idle: anything readable (EOF, RST) means the
    // server went away, which a zero-timeout poll sees without a round trip.
    pollfd p{ctx_->fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) return Status{};
  }
  return connect();
}

Done RedisStore::write(const core::Batch& batch) {
  if (batch.empty()) return Status{};
  if (pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
  pending_.insert(pending_.end(), batch.begin(), batch.end());
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - first_pending_)
                       .count();
  if (pending_.size() >= options_.batch_records || age >= options_.batch_ms) return commit();
  // Report an unreachable Redis as early as possible (cheap when connected).
  return ensure_connected();
}

Done RedisStore::flush() {
  if (pending_.empty()) return ensure_connected();
  return commit();
}

Done RedisStore::commit() {
  std::vector<Cmd> cmds;
  cmds.reserve(pending_.size() + 2);
  cmds.push_back({{"MULTI"}});
  for (const auto& m : pending_) cmds.push_back(mutation_command(*this, m));
  if (hook_ && hooked_ < pending_.size()) {
    // Once per mutation: a retried commit re-sends the same extra commands.
    core::Batch fresh(pending_.begin() + static_cast<std::ptrdiff_t>(hooked_), pending_.end());
    for (auto& extra : hook_(fresh)) hook_cmds_.push_back(std::move(extra));
    hooked_ = pending_.size();
  }
  for (const auto& extra : hook_cmds_) cmds.push_back({extra});
  cmds.push_back({{"EXEC"}});

  // A connection that was idle may have died with a Redis restart; only a fresh one that
  // fails too means Redis is really unavailable. Re-sending is safe (see the header).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = ctx_ && !ctx_->err;
    if (auto c = ensure_connected(); !c.ok()) return c;
    SigpipeGuard guard;
    const Sent sent = send_transaction(ctx_, cmds);
    if (sent.io_failed) {
      auto e = lost("lost during commit");
      if (reused) continue;
      return e;
    }
    if (!sent.first_error.empty())
      return failure(StatusCode::kIoError, "redis commit failed: " + sent.first_error);
    pending_.clear();
    hook_cmds_.clear();
    hooked_ = 0;
    return Status{};
  }
  return failure(
      StatusCode::kUnavailable,
      "redis " + target_.host + ":" + std::to_string(target_.port) + " unavailable during commit");
}

StatusOr<core::Image> RedisStore::load() {
  return scan_image(target_.prefix + ":*");
}

StatusOr<core::Image> RedisStore::load_presence() {
  return scan_image(target_.prefix + ":{c:*");  // braces are literal in SCAN's glob
}

StatusOr<core::Image> RedisStore::scan_image(const std::string& match) {
  const ScanKeys names{target_.prefix + ":{u:", target_.prefix + ":{c:", epoch_key()};
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = ctx_ && !ctx_->err;
    if (auto c = ensure_connected(); !c.ok()) return c;
    SigpipeGuard guard;
    core::Image img;
    std::unordered_set<std::string> seen;  // SCAN may return a key twice
    std::string cursor = "0";
    PageOutcome out;
    for (int pages = 0; pages < 100000000; ++pages) {
      out = scan_page(ctx_, match, names, cursor, seen, img);
      if (out.io_failed || !out.error.empty()) break;
      if (cursor == "0") break;
    }
    if (out.io_failed) {
      auto e = lost("lost during load");
      if (reused) continue;
      return e;
    }
    if (!out.error.empty()) {
      // Unread pipelined replies would desynchronise the connection: start afresh.
      redisFree(ctx_);
      ctx_ = nullptr;
      return failure(out.code, "redis load failed: " + out.error);
    }
    return img;
  }
  return failure(
      StatusCode::kUnavailable,
      "redis " + target_.host + ":" + std::to_string(target_.port) + " unavailable during load");
}

}  // namespace rpsync::store
