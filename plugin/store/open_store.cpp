// SPDX-License-Identifier: MIT
#include <string>

#include "plugin/store/memory_store.h"
#include "plugin/store/redact.h"
#include "plugin/store/redis_store.h"
#include "plugin/store/sqlite_store.h"
#include "plugin/store/store.h"

namespace rpsync::store {

StatusOr<std::unique_ptr<Store>> open_store(std::string_view uri, const StoreOptions& options) {
  if (uri == "memory:") return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  constexpr std::string_view kSqlite = "sqlite:";
  if (uri.substr(0, kSqlite.size()) == kSqlite && uri.size() > kSqlite.size())
    return SqliteStore::open(std::string(uri.substr(kSqlite.size())), options);
  if (uri.substr(0, 8) == "redis://") {
    auto target = parse_redis_uri(uri);
    if (!target.ok()) return target.status();
    return RedisStore::open(target.value(), options);
  }
  return Status::invalid_argument("store: unknown store URI '" + redact_uri(uri) +
                                  "' (use memory:, sqlite:/path/file.db or redis://host:port/db)");
}

}  // namespace rpsync::store
