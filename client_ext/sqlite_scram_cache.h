// SPDX-License-Identifier: MIT
// SqliteScramCache: the persistent ScramCache (scram.h) in a SqliteDatabase (table
// rpsync_scram), one SCRAM-SHA-1 SaltedPassword per account. It is a login credential
// for that server, so the file deserves the protection of a password file
// (Client::set_scram_cache(&cache) opts in).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "scram.h"
#include "sqlite_database.h"

namespace rpsync::client {

class SqliteScramCache final : public ScramCache {
 public:
  // `db` must outlive the cache.
  explicit SqliteScramCache(SqliteDatabase& db) : db_(db) {}

  std::optional<std::string> load_salted_password(const std::string& account,
                                                  const std::string& salt,
                                                  std::uint32_t iterations) override;
  void save_salted_password(const std::string& account, const std::string& salt,
                            std::uint32_t iterations, const std::string& salted_password) override;
  void erase_salted_password(const std::string& account) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace rpsync::client
