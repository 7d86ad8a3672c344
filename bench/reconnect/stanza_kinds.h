// SPDX-License-Identifier: MIT
// What the bytes a reconnecting client receives are made of: every top-level element
// gloox hands the client is put into one kind (stream features, SASL, bind, roster,
// rpsync sync answer, ...) with its serialised size. The wire total minus the sum of the
// kinds is what gloox's re-serialisation differs by (quoting, namespace declarations).
#pragma once

#include <gloox/tag.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace rpsync::bench {

// The kind of one top-level element as received by a client (`self` is the client's
// bare JID: presence from it is the reflection of its own presence).
std::string stanza_kind(const gloox::Tag& tag, const std::string& self);

// Bytes and elements per kind of one reconnect.
struct KindTally {
  std::map<std::string, std::size_t> bytes;
  std::map<std::string, std::size_t> count;
  void add(const std::string& kind, std::size_t b) {
    bytes[kind] += b;
    ++count[kind];
  }
  void clear() {
    bytes.clear();
    count.clear();
  }
};

// Median bytes and count per kind over several reconnects of one mode; a last row holds
// the wire total minus the kinds.
struct KindRow {
  std::string kind;
  double bytes = 0;
  double count = 0;
};
std::vector<KindRow> median_kinds(const std::vector<KindTally>& tallies,
                                  const std::vector<double>& wire_bytes);

}  // namespace rpsync::bench
