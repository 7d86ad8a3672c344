// SPDX-License-Identifier: MIT
// The service's privileged roster gets (XEP-0356), one per enable/checkpoint/sync:
// servers push no roster changes to a component, so every request asks the server.
//
// With the cache on (RosterCache), the get quotes the version of the user's last
// versioned answer, or ver='' when there is none (RFC 6121 §2.6.2); mod_rpsync_gate
// (plugin/prosody) answers a versioned get with an empty result when the roster is
// unchanged since that version, and the cached visible list is then used: exactly as
// fresh as a full answer. A full answer with a version replaces the entry, one without
// (mod_privilege alone, ejabberd) is used and not cached. A failed or unexpected answer to
// a versioned get drops the user's entry and fetches once more without ver; drop_cache()
// (a disconnect or a privileges change) drops every entry, and an "unchanged" answer to a
// get sent before then is not trusted. With the cache off (0 contacts) the get never
// carries ver, as before the cache.
//
// Threading: single-threaded (the service's event loop). Lifetime: the transport, the
// logger and the counters must outlive it; `done` is called once unless it is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/log/log.h"
#include "plugin/service/counters.h"
#include "plugin/service/roster_cache.h"
#include "plugin/service/transport.h"
#include "protocol/error.h"
#include "protocol/roster.h"

namespace rpsync::service {

class RosterFetch {
 public:
  // A user's visible contacts as a get gave them; `source` says how: "full" (a versioned
  // answer, now cached), "cached" (the server said unchanged since the cached version) or
  // "unversioned" (a full answer without a version: not cached).
  struct Fetched {
    RosterCache::Visible visible;
    std::string_view source;
  };
  using Done = std::function<void(proto::Result<Fetched>)>;

  struct Options {
    std::string component_jid;  // the gets' `from`
    std::chrono::milliseconds timeout{10000};
    std::size_t cache_contacts = 200000;  // RosterCache budget; 0 = no cache
  };

  RosterFetch(Options options, Transport& transport, log::Logger& log, Counters& counters);

  // Asks for the user's roster; versioned (quoting the cached version, or '') when
  // `versioned` and the cache is on. Calls `done` once.
  void fetch(const std::string& user, Done done, bool versioned = true);
  // Drops every cached roster (and distrusts "unchanged" answers to gets in flight).
  void drop_cache(std::string_view why);
  const RosterCache& cache() const { return cache_; }

 private:
  struct Call {  // one get in flight
    std::string user;
    bool versioned = false;
    std::optional<RosterCache::Entry> cached;  // the entry whose version was quoted
    std::uint64_t epoch = 0;                   // cache_epoch_ when it was sent
    Done done;
  };
  void answered(Call& call, proto::Result<xml::Element> res);
  void failed(Call& call, const proto::StanzaError& e, bool got_result);
  void unchanged(Call& call);
  void full(Call& call, proto::RosterResult answer);
  // What a versioned get gets when its answer cannot be used: one plain (unversioned)
  // get, which is exactly the request of a component without a cache.
  void refetch(Call& call, std::string_view why);

  Options options_;
  Transport& transport_;
  log::Logger& log_;
  Counters& counters_;
  RosterCache cache_;
  // Bumped whenever the whole cache is dropped: an "unchanged" answer to a get sent
  // before then is not trusted.
  std::uint64_t cache_epoch_ = 0;
};

}  // namespace rpsync::service
