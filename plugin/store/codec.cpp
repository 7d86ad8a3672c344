// SPDX-License-Identifier: MIT
#include "plugin/store/codec.h"

#include <array>
#include <cstdint>
#include <utility>

#include "plugin/store/varint.h"

namespace rpsync::store {
namespace {

constexpr char kVersion = 1;

using wire::put_str;
using wire::put_varint;
using wire::Reader;

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

void put_txn(std::string& out, const core::TxnRecord& t) {
  put_str(out, t.id);
  put_varint(out, t.epoch);
  put_varint(out, zigzag(t.at_ms));
}
bool get_txn(Reader& r, core::TxnRecord& t) {
  std::uint64_t at;
  if (!r.str(t.id) || !r.varint(t.epoch) || !r.varint(at)) return false;
  t.at_ms = unzigzag(at);
  return true;
}

}  // namespace

std::string encode_fields(const proto::PresenceFields& f) {
  std::string out;
  out.reserve(8 + f.status.size() + f.photo.size() + f.idle_since.size() +
              (f.caps ? f.caps->node.size() + f.caps->ver.size() + f.caps->hash.size() : 0));
  out += kVersion;
  out += static_cast<char>(f.show);
  out += static_cast<char>(f.priority);
  out += static_cast<char>(f.caps ? 1 : 0);
  put_str(out, f.status);
  if (f.caps) {
    put_str(out, f.caps->hash);
    put_str(out, f.caps->node);
    put_str(out, f.caps->ver);
  }
  put_str(out, f.photo);
  put_str(out, f.idle_since);
  return out;
}

std::optional<proto::PresenceFields> decode_fields(std::string_view blob) {
  Reader r(blob);
  unsigned char version, show, prio, has_caps;
  if (!r.byte(version) || version != kVersion || !r.byte(show) || !r.byte(prio) ||
      !r.byte(has_caps) || show > static_cast<unsigned char>(proto::Show::kDnd) || has_caps > 1)
    return std::nullopt;
  proto::PresenceFields f;
  f.show = static_cast<proto::Show>(show);
  f.priority = static_cast<std::int8_t>(prio);
  if (!r.str(f.status)) return std::nullopt;
  if (has_caps) {
    f.caps.emplace();
    if (!r.str(f.caps->hash) || !r.str(f.caps->node) || !r.str(f.caps->ver)) return std::nullopt;
  }
  if (!r.str(f.photo) || !r.str(f.idle_since) || !r.done()) return std::nullopt;
  return f;
}

// A row with history: version byte 2, then the current state (varint since, a byte 1 +
// encode_fields blob, or 0 for offline), then varint count of past states, each the same
// (since, state). Past states are kept in order and strictly before `since`.
namespace {

constexpr char kVersionWithHistory = 2;

void put_state(std::string& out, std::uint64_t since, const proto::PresenceFields* f) {
  put_varint(out, since);
  out += static_cast<char>(f ? 1 : 0);
  if (f) put_str(out, encode_fields(*f));
}

bool get_state(Reader& r, std::uint64_t& since, std::optional<proto::PresenceFields>& f) {
  unsigned char has;
  if (!r.varint(since) || !r.byte(has) || has > 1) return false;
  f.reset();
  if (!has) return true;
  std::string blob;
  if (!r.str(blob)) return false;
  f = decode_fields(blob);
  return f.has_value();
}

}  // namespace

std::string encode_resource(const proto::PresenceFields* fields, const core::Versions* versions) {
  if (!versions) return encode_fields(fields ? *fields : proto::PresenceFields{});
  std::string out;
  out += kVersionWithHistory;
  put_state(out, versions->since, fields);
  put_varint(out, versions->past.size());
  for (const auto& p : versions->past) put_state(out, p.since, p.fields ? &*p.fields : nullptr);
  return out;
}

std::optional<ResourceRow> decode_resource(std::string_view blob) {
  if (blob.empty() || blob[0] != kVersionWithHistory) {
    auto f = decode_fields(blob);
    if (!f) return std::nullopt;
    return ResourceRow{std::move(f), std::nullopt};
  }
  Reader r(blob.substr(1));
  ResourceRow row;
  row.versions.emplace();
  std::uint64_t n;
  if (!get_state(r, row.versions->since, row.fields) || !r.varint(n) || n > blob.size())
    return std::nullopt;
  std::uint64_t bound = row.versions->since;
  row.versions->past.resize(n);
  for (auto& p : row.versions->past)
    if (!get_state(r, p.since, p.fields)) return std::nullopt;
  for (auto it = row.versions->past.rbegin(); it != row.versions->past.rend(); ++it) {
    if (it->since >= bound) return std::nullopt;  // out of order: not a history
    bound = it->since;
  }
  if (!r.done()) return std::nullopt;
  return row;
}

std::optional<std::string> resource_blob(const core::PutResource& m) {
  return encode_resource(&m.fields, m.versions ? &*m.versions : nullptr);
}

std::optional<std::string> resource_blob(const core::EraseResource& m) {
  if (!m.tombstone) return std::nullopt;
  return encode_resource(nullptr, &*m.tombstone);
}

void add_to_image(core::Image& img, std::string jid, ResourceRow row) {
  if (row.fields)
    img.resources.push_back({std::move(jid), std::move(*row.fields), std::move(row.versions)});
  else if (row.versions)
    img.tombstones.push_back({std::move(jid), std::move(*row.versions)});
}

std::string encode_contacts(const std::vector<std::string>& contacts) {
  std::string out;
  out += kVersion;
  put_varint(out, contacts.size());
  for (const auto& c : contacts) put_str(out, c);
  return out;
}

std::optional<std::vector<std::string>> decode_contacts(std::string_view blob) {
  Reader r(blob);
  unsigned char version;
  std::uint64_t n;
  if (!r.byte(version) || version != kVersion || !r.varint(n) || n > blob.size())
    return std::nullopt;
  std::vector<std::string> out(n);
  for (auto& c : out)
    if (!r.str(c)) return std::nullopt;
  if (!r.done()) return std::nullopt;
  return out;
}

// After the moments, when either carries a digest or the newest a key it retires: a flags
// byte (1 = newest's digest, 2 = previous's, 4 = newest's retired key, 8 = newest's
// version, 16 = previous's), then each digest present as varint count + four varint words,
// then the retired key as three strings (stream, resource, last), then each version as a
// varint followed by the moment's roster fingerprint (varint). Records written before digests were
// kept end after the moments and decode without them. Only a newest moment carries a retired key.
namespace {

void put_digest(std::string& out, const proto::StateDigest& d) {
  put_varint(out, d.count());
  for (std::uint64_t w : d.words()) put_varint(out, w);
}

bool get_digest(Reader& r, std::optional<proto::StateDigest>& d) {
  std::uint64_t count;
  std::array<std::uint64_t, 4> words{};
  if (!r.varint(count) || count > UINT32_MAX) return false;
  for (auto& w : words)
    if (!r.varint(w)) return false;
  d = proto::StateDigest::from_words(words, static_cast<std::uint32_t>(count));
  return true;
}

}  // namespace

std::string encode_txns(const core::TxnRecord& newest,
                        const std::optional<core::TxnRecord>& previous) {
  std::string out;
  out += kVersion;
  put_txn(out, newest);
  out += static_cast<char>(previous ? 1 : 0);
  if (previous) put_txn(out, *previous);
  const bool prev_digest = previous && previous->digest;
  const bool prev_version = previous && previous->version;
  const int flags = (newest.digest ? 1 : 0) | (prev_digest ? 2 : 0) | (newest.retires ? 4 : 0) |
                    (newest.version ? 8 : 0) | (prev_version ? 16 : 0);
  if (flags == 0) return out;
  out += static_cast<char>(flags);
  if (newest.digest) put_digest(out, *newest.digest);
  if (prev_digest) put_digest(out, *previous->digest);
  if (newest.retires) {
    put_str(out, newest.retires->stream);
    put_str(out, newest.retires->resource);
    put_str(out, newest.retires->last);
  }
  if (newest.version) {
    put_varint(out, *newest.version);
    put_varint(out, newest.roster_fp);
  }
  if (prev_version) {
    put_varint(out, *previous->version);
    put_varint(out, previous->roster_fp);
  }
  return out;
}

bool decode_txns(std::string_view blob, core::TxnRecord& newest,
                 std::optional<core::TxnRecord>& previous) {
  newest.digest.reset();
  newest.retires.reset();
  newest.version.reset();
  newest.roster_fp = 0;
  Reader r(blob);
  unsigned char version, has_prev;
  if (!r.byte(version) || version != kVersion || !get_txn(r, newest) || !r.byte(has_prev) ||
      has_prev > 1)
    return false;
  previous.reset();
  if (has_prev) {
    previous.emplace();
    if (!get_txn(r, *previous)) return false;
  }
  if (r.done()) return true;
  unsigned char flags;
  if (!r.byte(flags) || flags == 0 || flags > 31 || ((flags & 18) && !previous)) return false;
  if ((flags & 1) && !get_digest(r, newest.digest)) return false;
  if ((flags & 2) && !get_digest(r, previous->digest)) return false;
  if (flags & 4) {
    core::KeyRef k;
    if (!r.str(k.stream) || !r.str(k.resource) || !r.str(k.last)) return false;
    newest.retires = std::move(k);
  }
  std::uint64_t v;
  if (flags & 8) {
    if (!r.varint(v) || !r.varint(newest.roster_fp)) return false;
    newest.version = v;
  }
  if (flags & 16) {
    if (!r.varint(v) || !r.varint(previous->roster_fp)) return false;
    previous->version = v;
  }
  return r.done();
}

void append_log_record(std::string& out, std::string_view jid,
                       const std::optional<std::string>& row) {
  put_str(out, jid);
  out += static_cast<char>(row ? 1 : 0);
  if (row) put_str(out, *row);
}

bool decode_log(std::string_view blob, std::vector<LogRecord>& out) {
  out.clear();
  Reader r(blob);
  while (!r.done()) {
    LogRecord rec;
    unsigned char put;
    if (!r.view(rec.jid) || !r.byte(put) || put > 1) return false;
    if (put) {
      std::string_view f;
      if (!r.view(f)) return false;
      rec.fields = f;
    }
    out.push_back(rec);
  }
  return true;
}

}  // namespace rpsync::store
