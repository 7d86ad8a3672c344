// SPDX-License-Identifier: MIT
// Backends the store contract suite runs over. Each provides open(): a Store over the
// same durable data every time it is called (a "restart"), and a name for messages.
// Adding a backend = one struct here + one entry in StoreBackends.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "plugin/store/memory_store.h"
#include "plugin/store/store.h"
#include "tests/plugin/store/redis_backend.h"

namespace rpsync::store::testing {

// A unique empty directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    static int n = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("rpsync-store-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct MemoryBackend {
  static constexpr const char* kName = "memory";
  std::shared_ptr<MemoryData> data = std::make_shared<MemoryData>();
  std::unique_ptr<Store> open() { return std::make_unique<MemoryStore>(data); }
};

struct SqliteBackend {
  static constexpr const char* kName = "sqlite";
  TempDir dir;
  std::unique_ptr<Store> open() {
    StoreOptions o;
    o.synchronous_full = false;  // tests do not need power-loss durability
    auto s = open_store("sqlite:" + (dir.path() / "rpsync.db").string(), o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.status().message());
    return s.ok() ? std::move(s.value()) : nullptr;
  }
};

using StoreBackends = ::testing::Types<MemoryBackend, SqliteBackend, RedisBackend>;

}  // namespace rpsync::store::testing
