// SPDX-License-Identifier: MIT
#include "plugin/app/store_check.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "plugin/store/redis_store.h"

namespace rpsync::app {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> check_sqlite(const std::string& path) {
  if (path.empty() || path == ":memory:") return std::nullopt;
  fs::path file(path);
  fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return "store directory '" + dir.string() +
           "' does not exist (create it, owned by the "
           "user the component runs as)";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return "store directory '" + dir.string() +
           "' is not writable by this user (SQLite "
           "creates its journal files there)";
  if (!fs::exists(file, ec)) return std::nullopt;  // created at start
  if (!fs::is_regular_file(file, ec))
    return "store file '" + file.string() + "' is not a regular file";
  if (::access(file.c_str(), R_OK | W_OK) != 0)
    return "store file '" + file.string() +
           "' cannot be opened for reading and writing by "
           "this user";
  return std::nullopt;
}

std::optional<std::string> check_redis(const std::string& uri) {
  auto target = store::parse_redis_uri(uri);
  if (!target) return "store: " + target.status().message();
  auto opened = store::RedisStore::open_redis(*target, {});
  if (!opened)
    return "Redis at " + target->host + ":" + std::to_string(target->port) +
           " is not usable: " + opened.status().message();
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_store(const std::string& uri) {
  if (uri.rfind("sqlite:", 0) == 0) return check_sqlite(uri.substr(7));
  if (uri.rfind("redis://", 0) == 0) return check_redis(uri);
  if (uri == "memory:") return std::nullopt;
  return "store: unknown scheme in '" + uri.substr(0, uri.find('?')) +
         "' (sqlite:PATH, redis://HOST:PORT[/DB] or memory:)";
}

}  // namespace rpsync::app
