// SPDX-License-Identifier: MIT
#include "plugin/feed/entry.h"

#include <charconv>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "plugin/store/codec.h"
#include "plugin/store/varint.h"

namespace rpsync::feed {
namespace {

constexpr char kVersion = 1;
enum Tag : unsigned char {
  kPutResource = 1,
  kEraseResource = 2,
  kPutRoster = 3,
  kPutSession = 4,
  kEraseSession = 5,
};

using store::wire::put_str;
using store::wire::put_varint;
using store::wire::Reader;

void put_digest(std::string& out, const std::optional<proto::StateDigest>& d) {
  put_str(out, d ? d->hex() : std::string());
  put_varint(out, d ? d->count() : 0);
}

bool get_digest(Reader& r, std::optional<proto::StateDigest>& d) {
  std::string_view hex;
  std::uint64_t count;
  if (!r.view(hex) || !r.varint(count) || count > UINT32_MAX) return false;
  if (hex.empty()) {
    d.reset();
    return count == 0;
  }
  d = proto::StateDigest::from_hex(hex, static_cast<std::uint32_t>(count));
  return d.has_value();
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  return true;
}

// KEYS: seq, stream. ARGV: maxlen (0 = none), max age ms (0 = none), then field/value pairs.
constexpr std::string_view kPublish = R"lua(
local seq = redis.call('INCR', KEYS[1])
local args = {'XADD', KEYS[2]}
if ARGV[1] ~= '0' then
  args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = ARGV[1]
end
args[#args + 1] = '*'
args[#args + 1] = 'seq'; args[#args + 1] = tostring(seq)
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.call(unpack(args))
if ARGV[2] ~= '0' then
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2])
  if floor > 0 then redis.call('XTRIM', KEYS[2], 'MINID', '~', string.format('%d', floor)) end
end
return id
)lua";

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kMutations:
      return "mutations";
    case Kind::kPurgeUser:
      return "purge-user";
    case Kind::kInvalidateKeys:
      return "invalidate-keys";
  }
  return "mutations";
}

std::optional<Kind> kind_from(std::string_view name) {
  for (Kind k : {Kind::kMutations, Kind::kPurgeUser, Kind::kInvalidateKeys})
    if (kind_name(k) == name) return k;
  return std::nullopt;
}

std::string encode_payload(const Entry& entry) {
  std::string out;
  out += kVersion;
  if (entry.kind != Kind::kMutations) {
    put_str(out, entry.user);
    return out;
  }
  std::size_t session = 0;
  for (const auto& m : entry.mutations) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, core::PutResource>) {
            out += static_cast<char>(kPutResource);
            put_str(out, x.jid);
            put_str(out, store::encode_fields(x.fields));
          } else if constexpr (std::is_same_v<T, core::EraseResource>) {
            out += static_cast<char>(kEraseResource);
            put_str(out, x.jid);
          } else if constexpr (std::is_same_v<T, core::PutRoster>) {
            out += static_cast<char>(kPutRoster);
            put_str(out, x.user);
            put_str(out, store::encode_contacts(x.contacts));
          } else if constexpr (std::is_same_v<T, core::PutSession>) {
            out += static_cast<char>(kPutSession);
            put_str(out, x.session.user);
            put_str(out, x.session.stream);
            put_str(out, x.session.resource);
            put_str(out, store::encode_txns(x.session.newest, x.session.previous));
            const SessionDigests d =
                session < entry.digests.size() ? entry.digests[session] : SessionDigests{};
            ++session;
            put_digest(out, d.newest);
            put_digest(out, d.previous);
          } else if constexpr (std::is_same_v<T, core::EraseSession>) {
            out += static_cast<char>(kEraseSession);
            put_str(out, x.user);
            put_str(out, x.stream);
            put_str(out, x.resource);
          }
          // PutEpoch: never replicated (each engine keeps its own epoch).
        },
        m);
  }
  return out;
}

bool decode_payload(std::string_view blob, Entry& entry) {
  Reader r(blob);
  unsigned char version;
  if (!r.byte(version) || version != kVersion) return false;
  entry.mutations.clear();
  entry.digests.clear();
  entry.user.clear();
  if (entry.kind != Kind::kMutations) return r.str(entry.user) && r.done() && !entry.user.empty();
  while (!r.done()) {
    unsigned char tag;
    if (!r.byte(tag)) return false;
    switch (tag) {
      case kPutResource: {
        core::PutResource m;
        std::string_view fields;
        if (!r.str(m.jid) || !r.view(fields)) return false;
        auto f = store::decode_fields(fields);
        if (!f) return false;
        m.fields = std::move(*f);
        entry.mutations.emplace_back(std::move(m));
        break;
      }
      case kEraseResource: {
        core::EraseResource m;
        if (!r.str(m.jid)) return false;
        entry.mutations.emplace_back(std::move(m));
        break;
      }
      case kPutRoster: {
        core::PutRoster m;
        std::string_view contacts;
        if (!r.str(m.user) || !r.view(contacts)) return false;
        auto c = store::decode_contacts(contacts);
        if (!c) return false;
        m.contacts = std::move(*c);
        entry.mutations.emplace_back(std::move(m));
        break;
      }
      case kPutSession: {
        core::PutSession m;
        std::string_view txns;
        SessionDigests d;
        if (!r.str(m.session.user) || !r.str(m.session.stream) || !r.str(m.session.resource) ||
            !r.view(txns) || !store::decode_txns(txns, m.session.newest, m.session.previous) ||
            !get_digest(r, d.newest) || !get_digest(r, d.previous))
          return false;
        entry.mutations.emplace_back(std::move(m));
        entry.digests.push_back(std::move(d));
        break;
      }
      case kEraseSession: {
        core::EraseSession m;
        if (!r.str(m.user) || !r.str(m.stream) || !r.str(m.resource)) return false;
        entry.mutations.emplace_back(std::move(m));
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

std::optional<StreamId> StreamId::parse(std::string_view text) {
  StreamId id;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, id.ms);
  if (ec != std::errc()) return std::nullopt;
  if (p == end) return id;
  if (*p != '-') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, end, id.n);
  if (ec2 != std::errc() || q != end) return std::nullopt;
  return id;
}

std::string StreamId::str() const {
  return std::to_string(ms) + "-" + std::to_string(n);
}

std::string check_config(const FeedConfig& config) {
  if (!valid_name(config.instance))
    return "feed: instance_id must be 1..64 characters of [A-Za-z0-9_.-]";
  if (config.observer_group.empty() || config.observer_group.size() > 1024)
    return "feed: observer_group must be 1..1024 bytes (default: the XMPP server's host)";
  if (config.retention_ms < 0) return "feed: feed_retention_ms must not be negative";
  return {};
}

std::vector<std::string> publish_command(const FeedKeys& keys, const FeedConfig& config,
                                         const Entry& entry) {
  return {"EVAL",
          std::string(kPublish),
          "2",
          keys.seq(),
          keys.stream(),
          std::to_string(config.retention_entries),
          std::to_string(config.retention_ms),
          "o",
          entry.origin,
          "g",
          entry.observer_group,
          "w",
          entry.writer,
          "k",
          std::string(kind_name(entry.kind)),
          "p",
          encode_payload(entry)};
}

}  // namespace rpsync::feed
