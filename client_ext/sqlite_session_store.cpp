// SPDX-License-Identifier: MIT
#include "client_ext/sqlite_session_store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "client_ext/sqlite_statement.h"
#include "protocol/digest.h"

namespace rpsync::client {

namespace {

constexpr AccountDeletes kSessionDeletes{"DELETE FROM rpsync_presence WHERE account = ?1",
                                         "DELETE FROM rpsync_session WHERE account = ?1"};

// The session row: everything but the presence state, plus the state's count and digest.
struct SessionRow {
  SavedSession session;
  std::uint32_t count = 0;
  std::string digest;
};

StatusOr<std::optional<SessionRow>> load_row(SqliteDatabase& db, std::string_view account) {
  SqliteStatement q(db.handle(),
                    "SELECT component, stream, resource, last, expires_at, count, digest"
                    " FROM rpsync_session WHERE account = ?1");
  if (!q.ok()) return Status::io_error(db.error());
  q.text(1, account);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<SessionRow>{};
  if (rc != SQLITE_ROW) return Status::corrupt(db.error());
  SessionRow row;
  row.session.component = q.col_text(0);
  row.session.key = {q.col_text(1), q.col_text(2), q.col_text(3)};
  row.session.expires_at = q.col_int(4);
  const std::int64_t c = q.col_int(5);
  if (c < 0 || c > 0xffffffffLL) return Status::corrupt("bad count");
  row.count = static_cast<std::uint32_t>(c);
  row.digest = q.col_text(6);
  return std::optional<SessionRow>{std::move(row)};
}

Status load_presence(SqliteDatabase& db, std::string_view account, proto::PresenceState& state) {
  SqliteStatement q(db.handle(),
                    "SELECT jid, show, status, priority, caps_hash, caps_node, caps_ver, photo,"
                    " idle FROM rpsync_presence WHERE account = ?1");
  if (!q.ok()) return Status::io_error(db.error());
  q.text(1, account);
  int rc = SQLITE_ROW;
  while ((rc = q.step()) == SQLITE_ROW) {
    proto::PresenceFields f;
    const std::int64_t show = q.col_int(1);
    const std::int64_t prio = q.col_int(3);
    if (show < 0 || show > 4 || prio < -128 || prio > 127) {
      return Status::corrupt("bad presence row");
    }
    f.show = static_cast<proto::Show>(show);
    f.status = q.col_text(2);
    f.priority = static_cast<std::int8_t>(prio);
    if (!q.col_null(4)) f.caps = proto::Caps{q.col_text(4), q.col_text(5), q.col_text(6)};
    f.photo = q.col_text(7);
    f.idle_since = q.col_text(8);
    state.insert_or_assign(q.col_text(0), std::move(f));
  }
  if (rc != SQLITE_DONE) return Status::corrupt(db.error());
  return {};
}

bool insert_row(sqlite3* db, std::string_view account, const SavedSession& s) {
  const proto::StateDigest digest = proto::digest_of(s.state);
  SqliteStatement ins(db,
                      "INSERT INTO rpsync_session(account, component, stream, resource, last,"
                      " expires_at, count, digest) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!ins.ok()) return false;
  ins.text(1, account);
  ins.text(2, s.component);
  ins.text(3, s.key.stream);
  ins.text(4, s.key.resource);
  ins.text(5, s.key.last);
  ins.integer(6, s.expires_at);
  ins.integer(7, digest.count());
  ins.text(8, digest.hex());
  return ins.step() == SQLITE_DONE;
}

bool insert_presence(sqlite3* db, std::string_view account, const proto::PresenceState& state) {
  SqliteStatement ins(db,
                      "INSERT INTO rpsync_presence(account, jid, show, status, priority,"
                      " caps_hash, caps_node, caps_ver, photo, idle)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!ins.ok()) return false;
  for (const auto& [jid, f] : state) {
    ins.reset();
    ins.text(1, account);
    ins.text(2, jid);
    ins.integer(3, static_cast<std::int64_t>(f.show));
    ins.text(4, f.status);
    ins.integer(5, f.priority);
    if (f.caps) {
      ins.text(6, f.caps->hash);
      ins.text(7, f.caps->node);
      ins.text(8, f.caps->ver);
    } else {
      ins.null(6);
      ins.null(7);
      ins.null(8);
    }
    ins.text(9, f.photo);
    ins.text(10, f.idle_since);
    if (ins.step() != SQLITE_DONE) return false;
  }
  return true;
}

}  // namespace

LoadResult SqliteSessionStore::load(std::string_view account) {
  if (!db_.is_open()) return db_.open_status();
  auto row = load_row(db_, account);
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<SavedSession>{};
  SavedSession s = std::move((*row)->session);
  if (Status st = load_presence(db_, account, s.state); !st.ok()) return st;
  const auto expected = proto::StateDigest::from_hex((*row)->digest, (*row)->count);
  if (!expected || !(proto::digest_of(s.state) == *expected)) {
    return Status::corrupt("stored presence state does not match its digest");
  }
  return std::optional<SavedSession>{std::move(s)};
}

Status SqliteSessionStore::save(std::string_view account, const SavedSession& session) {
  return db_.transaction([&] {
    return delete_account(db_.handle(), account, kSessionDeletes) &&
           insert_row(db_.handle(), account, session) &&
           insert_presence(db_.handle(), account, session.state);
  });
}

Status SqliteSessionStore::erase(std::string_view account) {
  return db_.transaction([&] { return delete_account(db_.handle(), account, kSessionDeletes); });
}

}  // namespace rpsync::client
