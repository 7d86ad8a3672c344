// SPDX-License-Identifier: MIT
#include "bench/store/fold_store.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <memory>
#include <utility>

#include "plugin/store/store.h"

namespace rpsync::bench {
namespace {

constexpr std::size_t kPerWrite = 10000;  // mutations per write() (one log row each)

core::Mutation resource(std::size_t i, const std::string& domain) {
  core::PutResource p;
  p.jid = "contact" + std::to_string(i) + "@" + domain + "/r";
  p.fields.show = (i % 3 == 0) ? proto::Show::kAway : proto::Show::kNone;
  p.fields.status = "status " + std::to_string(i % 1000);
  p.fields.priority = static_cast<std::int8_t>(i % 10);
  p.versions = core::Versions{i + 1, {}};
  return p;
}

// Resources [from, to) written in batches of kPerWrite, then flushed (one commit: the
// store's batch limits are lifted below).
Status write_resources(store::Store& s, std::size_t from, std::size_t to,
                       const std::string& domain) {
  for (std::size_t i = from; i < to;) {
    core::Batch b;
    for (const std::size_t end = std::min(to, i + kPerWrite); i < end; ++i)
      b.push_back(resource(i, domain));
    if (Status w = s.write(b); !w) return w;
  }
  return s.flush();
}

Status write_rosters(store::Store& s, const FoldStoreSpec& spec) {
  const std::size_t per_user = std::max<std::size_t>(1, spec.resources / spec.users);
  core::Batch b;
  for (std::size_t u = 0; u < spec.users; ++u) {
    core::PutRoster r;
    r.user = "user" + std::to_string(u) + "@" + spec.domain;
    for (std::size_t c = u * per_user; c < std::min(spec.resources, (u + 1) * per_user); ++c)
      r.contacts.push_back("contact" + std::to_string(c) + "@" + spec.domain);
    b.push_back(std::move(r));
  }
  b.push_back(core::PutEpoch{1});
  if (Status w = s.write(b); !w) return w;
  return s.flush();
}

}  // namespace

Status prepare_fold_store(const std::string& path, const FoldStoreSpec& spec) {
  store::StoreOptions options;
  if (spec.resources <= 2 * options.compact_min_log + 1 || spec.users == 0)
    return Status::invalid_argument("fold store: needs > " +
                                    std::to_string(2 * options.compact_min_log + 1) +
                                    " resources and >= 1 user");
  if (std::filesystem::exists(path))
    return Status::invalid_argument("fold store: " + path + " exists");
  options.synchronous_full = false;  // preparation only: no fsync per commit
  options.batch_records = std::numeric_limits<std::size_t>::max();
  options.batch_ms = std::numeric_limits<std::int32_t>::max();
  std::uint64_t folds = 0;
  options.on_fold = [&folds](const store::FoldReport& f) { folds += f.ok ? 1 : 0; };
  auto opened = store::open_store("sqlite:" + path, options);
  if (!opened) return opened.status();
  std::unique_ptr<store::Store> s = std::move(opened).value();
  const std::size_t base = (spec.resources + 1) / 2;  // the rest stays in the log
  if (Status w = write_rosters(*s, spec); !w) return w;
  if (Status w = write_resources(*s, 0, base, spec.domain); !w) return w;
  if (folds != 1) return Status::io_error("fold store: the base was not folded");
  if (Status w = write_resources(*s, base, spec.resources, spec.domain); !w) return w;
  if (folds != 1) return Status::io_error("fold store: the log was folded too early");
  return Status{};
}

}  // namespace rpsync::bench
