// SPDX-License-Identifier: MIT
#include "client_ext/sqlite_scram_cache.h"

#include "client_ext/sqlite_statement.h"

namespace rpsync::client {

std::optional<std::string> SqliteScramCache::load_salted_password(const std::string& account,
                                                                  const std::string& salt,
                                                                  std::uint32_t iterations) {
  if (!db_.is_open()) return std::nullopt;
  SqliteStatement q(db_.handle(),
                    "SELECT salt, iterations, salted FROM rpsync_scram WHERE account = ?1");
  if (!q.ok()) return std::nullopt;
  q.text(1, account);
  if (q.step() != SQLITE_ROW) return std::nullopt;
  std::string salted = q.col_blob(2);
  // A SHA-1 SaltedPassword is 20 bytes; anything else is not ours to send.
  if (q.col_blob(0) != salt || q.col_int(1) != static_cast<std::int64_t>(iterations) ||
      salted.size() != 20) {
    return std::nullopt;
  }
  return salted;
}

void SqliteScramCache::save_salted_password(const std::string& account, const std::string& salt,
                                            std::uint32_t iterations,
                                            const std::string& salted_password) {
  if (!db_.is_open()) return;
  SqliteStatement q(db_.handle(),
                    "INSERT OR REPLACE INTO rpsync_scram(account, salt, iterations, salted)"
                    " VALUES(?1, ?2, ?3, ?4)");
  if (!q.ok()) return;
  q.text(1, account);
  q.blob(2, salt);
  q.integer(3, iterations);
  q.blob(4, salted_password);
  q.step();  // a failed save only costs the next login a derivation
}

void SqliteScramCache::erase_salted_password(const std::string& account) {
  if (!db_.is_open()) return;
  SqliteStatement q(db_.handle(), "DELETE FROM rpsync_scram WHERE account = ?1");
  if (!q.ok()) return;
  q.text(1, account);
  q.step();
}

}  // namespace rpsync::client
