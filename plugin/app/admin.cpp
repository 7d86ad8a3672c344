// SPDX-License-Identifier: MIT
#include "plugin/app/admin.h"

#include <chrono>
#include <cstdio>
#include <variant>

#include "plugin/core/engine.h"
#include "plugin/feed/feed_writer.h"
#include "plugin/feed/replica.h"
#include "plugin/store/redis_store.h"

namespace rpsync::app {
namespace {

int fail(const std::string& what, const proto::StanzaError& e) {
  std::fprintf(stderr, "rpsync-component: %s: %s\n", what.c_str(), e.text.c_str());
  return 1;
}

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Deletes the user's sessions and roster rows; returns the number of sessions removed.
proto::Result<std::size_t> delete_rows(const AppConfig& config, const store::RedisTarget& target,
                                       const std::string& user) {
  auto store = store::RedisStore::open_redis(target, {});
  if (!store) return proto::to_stanza_error(store.status());
  auto image = (*store)->load();
  if (!image) return proto::to_stanza_error(image.status());
  core::EngineOptions eo;
  eo.lifetime_s = config.lifetime_s;
  eo.max_sessions_per_user = config.max_sessions_per_user;
  eo.clock = wall_ms;
  eo.history = false;  // the rows of a group of instances carry no history
  core::Engine engine(eo);
  engine.restore(*image);
  (void)engine.take_changes();  // the restore's new epoch: this is no instance
  const std::size_t n = engine.purge_user(user, core::Engine::Source::kLocal);
  core::Batch batch;
  for (auto& m : engine.take_changes())
    if (!std::holds_alternative<core::PutEpoch>(m)) batch.push_back(std::move(m));
  if (auto w = (*store)->write(batch); !w) return proto::to_stanza_error(w);
  if (auto f = (*store)->flush(); !f) return proto::to_stanza_error(f);
  return n;
}

}  // namespace

int run_admin(const Invocation& inv) {
  const AppConfig& config = inv.config;
  auto target = store::parse_redis_uri(config.store);
  if (!target) return fail("store", proto::to_stanza_error(target.status()));
  auto writer = feed::FeedWriter::open(*target, feed_config(config));
  if (!writer) return fail("feed", proto::to_stanza_error(writer.status()));
  const std::string& user = inv.admin_user;
  if (inv.action == Invocation::Action::kPurgeUser) {
    auto rows = delete_rows(config, *target, user);
    if (!rows) return fail("purging " + user + "'s rows", rows.error());
    std::printf("deleted %s's roster and %zu session(s) from the store\n", user.c_str(), *rows);
    auto id = (*writer)->purge_user(user);
    if (!id) return fail("publishing purge-user", proto::to_stanza_error(id.status()));
    std::printf(
        "published purge-user %s as feed entry %s: every running instance forgets "
        "the user's sessions and roster\n",
        user.c_str(), id->c_str());
    return 0;
  }
  auto id = (*writer)->invalidate_keys(user);
  if (!id) return fail("publishing invalidate-keys", proto::to_stanza_error(id.status()));
  std::printf(
      "published invalidate-keys %s as feed entry %s: every running instance now "
      "answers continuity-lost for %s\n",
      user.c_str(), id->c_str(), user == "*" ? "every key" : "the user's keys");
  return 0;
}

}  // namespace rpsync::app
