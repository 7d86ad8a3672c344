// SPDX-License-Identifier: MIT
#include "plugin/feed/feed_writer.h"

#include <random>
#include <type_traits>
#include <variant>

namespace rpsync::feed {

Publisher::Publisher(FeedConfig config, std::string prefix)
    : config_(std::move(config)), keys_(std::move(prefix)) {
  std::random_device rd;
  const std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) incarnation_ += kHex[(r >> shift) & 0xf];
}

Entry Publisher::stamp(Kind kind) {
  Entry e;
  e.origin = config_.instance;
  e.observer_group = config_.observer_group;
  e.writer = incarnation_ + ":" + std::to_string(++counter_);
  e.kind = kind;
  return e;
}

std::vector<std::vector<std::string>> Publisher::commands(const core::Batch& batch,
                                                          const DigestFn& digests) {
  std::vector<std::vector<std::string>> out;
  Entry e;
  auto finish = [&] {
    if (e.mutations.empty()) return;
    out.push_back(publish_command(keys_, config_, e));
    e.mutations.clear();
    e.digests.clear();
  };
  for (const auto& m : batch) {
    if (std::holds_alternative<core::PutEpoch>(m)) continue;
    if (e.mutations.empty()) e = stamp(Kind::kMutations);
    if (const auto* s = std::get_if<core::PutSession>(&m))
      e.digests.push_back(digests ? digests(s->session) : SessionDigests{});
    e.mutations.push_back(m);
    if (e.mutations.size() >= max_per_entry) finish();
  }
  finish();
  return out;
}

std::vector<std::string> Publisher::admin_command(Kind kind, std::string_view user) {
  Entry e = stamp(kind);
  e.user = std::string(user);
  return publish_command(keys_, config_, e);
}

store::RedisStore::CommitHook commit_hook(std::shared_ptr<Publisher> publisher, DigestFn digests) {
  return [publisher = std::move(publisher), digests = std::move(digests)](const core::Batch& b) {
    return publisher->commands(b, digests);
  };
}

FeedWriter::FeedWriter(const store::RedisTarget& target, const FeedConfig& config)
    : link_(target), publisher_(config, target.prefix) {}

StatusOr<std::unique_ptr<FeedWriter>> FeedWriter::open(const store::RedisTarget& target,
                                                       const FeedConfig& config) {
  if (auto why = check_config(config); !why.empty()) return Status::invalid_argument(why);
  return std::unique_ptr<FeedWriter>(new FeedWriter(target, config));
}

StatusOr<std::string> FeedWriter::exec(std::vector<std::vector<std::string>> fresh) {
  // Entries of a failed call go first, with their writer ids: if that call did land after
  // all, readers drop the second copy.
  for (auto& c : fresh) unsent_.push_back(std::move(c));
  if (unsent_.empty()) return std::string();
  std::vector<std::vector<std::string>> cmds = unsent_;
  const std::size_t n = cmds.size();
  cmds.insert(cmds.begin(), {"MULTI"});
  cmds.push_back({"EXEC"});
  auto r = link_.run_all(cmds);
  if (!r.ok()) return r.status();
  const Value& exec = r.value().back();
  auto fail = [](const std::string& why) {
    return Status::io_error("feed: publish failed: " + why);
  };
  for (const auto& v : r.value())
    if (v.error()) return fail(v.str);
  if (!exec.array() || exec.elements.size() != n) return fail("EXEC did not return results");
  for (const auto& v : exec.elements)
    if (v.error()) return fail(v.str);
  unsent_.clear();
  return exec.elements.back().str;
}

StatusOr<std::string> FeedWriter::publish(const core::Batch& batch, const DigestFn& digests) {
  return exec(publisher_.commands(batch, digests));
}

StatusOr<std::string> FeedWriter::purge_user(std::string_view user) {
  return exec({publisher_.admin_command(Kind::kPurgeUser, user)});
}

StatusOr<std::string> FeedWriter::invalidate_keys(std::string_view user) {
  return exec({publisher_.admin_command(Kind::kInvalidateKeys, user)});
}

}  // namespace rpsync::feed
