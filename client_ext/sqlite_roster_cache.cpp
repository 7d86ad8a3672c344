// SPDX-License-Identifier: MIT
#include "client_ext/sqlite_roster_cache.h"

#include <optional>
#include <utility>
#include <vector>

#include "client_ext/sqlite_statement.h"

namespace rpsync::client {

namespace {

constexpr AccountDeletes kRosterDeletes{"DELETE FROM rpsync_roster_item WHERE account = ?1",
                                        "DELETE FROM rpsync_roster WHERE account = ?1"};

// Groups of a roster item in one column: each as decimal length ':' bytes.
std::string encode_groups(const std::vector<std::string>& groups) {
  std::string out;
  for (const auto& g : groups) out += std::to_string(g.size()) + ":" + g;
  return out;
}

std::optional<std::vector<std::string>> decode_groups(std::string_view in) {
  std::vector<std::string> out;
  while (!in.empty()) {
    const auto colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 9) return std::nullopt;
    std::size_t n = 0;
    for (char c : in.substr(0, colon)) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    in.remove_prefix(colon + 1);
    if (n > in.size()) return std::nullopt;
    out.emplace_back(in.substr(0, n));
    in.remove_prefix(n);
  }
  return out;
}

struct RosterHeader {
  std::string ver;
  std::int64_t count = 0;
  std::string checksum;
};

// The account's header row; an empty optional when there is none.
StatusOr<std::optional<RosterHeader>> load_header(SqliteDatabase& db, std::string_view account) {
  SqliteStatement q(db.handle(),
                    "SELECT ver, count, checksum FROM rpsync_roster WHERE account = ?1");
  if (!q.ok()) return Status::io_error(db.error());
  q.text(1, account);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<RosterHeader>{};
  if (rc != SQLITE_ROW) return Status::corrupt(db.error());
  return std::optional<RosterHeader>{RosterHeader{q.col_text(0), q.col_int(1), q.col_text(2)}};
}

Status load_items(SqliteDatabase& db, std::string_view account, CachedRoster& r) {
  SqliteStatement q(db.handle(),
                    "SELECT jid, name, subscription, ask, groups FROM rpsync_roster_item"
                    " WHERE account = ?1 ORDER BY jid");
  if (!q.ok()) return Status::io_error(db.error());
  q.text(1, account);
  int rc = SQLITE_ROW;
  while ((rc = q.step()) == SQLITE_ROW) {
    auto groups = decode_groups(q.col_blob(4));
    if (!groups) return Status::corrupt("bad roster item groups");
    r.items.push_back(
        {q.col_text(0), q.col_text(1), q.col_text(2), q.col_text(3), std::move(*groups)});
  }
  if (rc != SQLITE_DONE) return Status::corrupt(db.error());
  return {};
}

bool insert_roster(sqlite3* db, std::string_view account, const CachedRoster& r) {
  SqliteStatement head(db,
                       "INSERT INTO rpsync_roster(account, ver, count, checksum)"
                       " VALUES(?1, ?2, ?3, ?4)");
  if (!head.ok()) return false;
  head.text(1, account);
  head.text(2, r.ver);
  head.integer(3, static_cast<std::int64_t>(r.items.size()));
  head.text(4, roster_checksum(r));
  if (head.step() != SQLITE_DONE) return false;
  SqliteStatement ins(db,
                      "INSERT INTO rpsync_roster_item(account, jid, name, subscription, ask,"
                      " groups) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ins.ok()) return false;
  for (const auto& item : r.items) {
    ins.reset();
    ins.text(1, account);
    ins.text(2, item.jid);
    ins.text(3, item.name);
    ins.text(4, item.subscription);
    ins.text(5, item.ask);
    ins.blob(6, encode_groups(item.groups));
    if (ins.step() != SQLITE_DONE) return false;
  }
  return true;
}

}  // namespace

RosterLoadResult SqliteRosterCache::load(std::string_view account) {
  if (!db_.is_open()) return db_.open_status();
  auto header = load_header(db_, account);
  if (!header.ok()) return header.status();
  if (!*header) return std::optional<CachedRoster>{};
  CachedRoster r;
  r.ver = (*header)->ver;
  if (Status st = load_items(db_, account, r); !st.ok()) return st;
  // SQLite's ORDER BY compares TEXT with memcmp, the same order as std::string's <.
  if ((*header)->count != static_cast<std::int64_t>(r.items.size())) {
    return Status::corrupt("cached roster: item count does not match");
  }
  if (roster_checksum(r) != (*header)->checksum) {
    return Status::corrupt("cached roster: checksum does not match");
  }
  return std::optional<CachedRoster>{std::move(r)};
}

Status SqliteRosterCache::save(std::string_view account, const CachedRoster& roster) {
  return db_.transaction([&] {
    return delete_account(db_.handle(), account, kRosterDeletes) &&
           insert_roster(db_.handle(), account, roster);
  });
}

Status SqliteRosterCache::erase(std::string_view account) {
  return db_.transaction([&] { return delete_account(db_.handle(), account, kRosterDeletes); });
}

}  // namespace rpsync::client
