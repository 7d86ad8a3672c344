// SPDX-License-Identifier: MIT
// Ingest cost of the stream parser's per-stanza limits (protocol/xml.h): the component's
// stream carrying typical presence stanzas, parsed with the component's default bounds
// and with every bound effectively off, in the same run; and a stream where one stanza
// in 100 is skipped for a bound. Figures: presence stanzas per second (items/s).
// Run: build/bin/rpsync_xml_bench
#include <benchmark/benchmark.h>

#include <limits>
#include <string>

#include "protocol/xml.h"

namespace rpsync::bench {
namespace {

constexpr std::string_view kOpen =
    "<stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='b'>";

std::string presence(int i) {
  return "<presence from='contact" + std::to_string(i % 5000) + "@example.test/phone' "
         "to='rpsync.example.test' xml:lang='en'><show>away</show><status>out for lunch " +
         std::to_string(i) + "</status><priority>5</priority>"
         "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
         "node='https://gajim.org' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>";
}

std::string deep(int depth) {
  std::string s = "<presence from='mallory@example.test/x'>";
  for (int i = 0; i < depth; ++i) s += "<x xmlns='urn:n'>";
  for (int i = 0; i < depth; ++i) s += "</x>";
  return s + "</presence>";
}

// kStanzas presence stanzas (every 100th a 64-deep one when `hostile`), in 16 KiB reads.
constexpr int kStanzas = 20000;
std::string stream_of(bool hostile) {
  std::string s;
  for (int i = 0; i < kStanzas; ++i) s += (hostile && i % 100 == 99) ? deep(64) : presence(i);
  return s;
}

xml::ParseLimits limits_for(int mode) {
  xml::ParseLimits l;
  if (mode == 0) {  // the component's defaults (xmpp::ComponentConfig)
    l.max_element_bytes = 3 << 20;
    l.max_result_bytes = 64 << 20;
    l.max_depth = 32;
    l.max_attributes = 64;
  } else {  // bounds effectively off
    const std::size_t big = std::numeric_limits<std::size_t>::max() / 4;
    l.max_element_bytes = big;
    l.max_depth = big;
    l.max_attributes = big;
  }
  return l;
}

void BM_PresenceIngest(benchmark::State& state) {
  const bool hostile = state.range(1) != 0;
  const std::string body = stream_of(hostile);
  std::size_t stanzas = 0, skipped = 0;
  for (auto _ : state) {
    xml::StreamParser p({.on_open = {},
                         .on_element = [&](xml::Element) { ++stanzas; },
                         .on_close = {},
                         .on_error = {},
                         .on_skipped = [&](xml::Element, xml::SkipReason) { ++skipped; }},
                        limits_for(static_cast<int>(state.range(0))));
    p.feed(kOpen);
    for (std::size_t off = 0; off < body.size(); off += 16384)
      p.feed(std::string_view(body).substr(off, 16384));
    if (p.failed()) state.SkipWithError("parse failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(stanzas + skipped));
  state.counters["skipped"] = benchmark::Counter(static_cast<double>(skipped),
                                                 benchmark::Counter::kAvgIterations);
  state.SetLabel(std::string(state.range(0) == 0 ? "default bounds" : "bounds off") +
                 (hostile ? ", 1% skipped" : ""));
}
BENCHMARK(BM_PresenceIngest)->Args({0, 0})->Args({1, 0})->Args({0, 1})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rpsync::bench

BENCHMARK_MAIN();
