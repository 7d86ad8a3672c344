// SPDX-License-Identifier: MIT
#include "bench/common/presence.h"

#include <cstdio>

#include "bench/common/timing.h"
#include "protocol/ns.h"

namespace rpsync::bench {

using xml::Element;

std::string contact_name(int i, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "c%0*d", digits, i);
  return buf;
}

Element contact_presence(const std::string& status, int variant) {
  static const char* kShows[] = {"", "away", "chat", "dnd", "xa"};
  Element p("presence", std::string(ns::kClient));
  if (const char* show = kShows[variant % 5]; *show)
    p.add(Element("show", std::string(ns::kClient))).set_text(show);
  p.add(Element("status", std::string(ns::kClient))).set_text(status);
  p.add(Element("priority", std::string(ns::kClient))).set_text("1");
  Element& caps = p.add(Element("c", std::string(ns::kCaps)));
  caps.set_attr("hash", "sha-1");
  caps.set_attr("node", "https://rpsync.example/bench-client");
  caps.set_attr("ver", "q07IKJEyjvHSyhy//CH0CxmKi8w=");
  return p;
}

std::optional<double> ping(test::TestClient& c, const std::string& to, const std::string& id,
                           std::chrono::milliseconds timeout) {
  Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "get");
  iq.set_attr("to", to);
  iq.set_attr("id", id);
  iq.add(Element("ping", std::string(ns::kPing)));
  auto t0 = Clock::now();
  if (!c.send(iq)) return std::nullopt;
  auto reply =
      c.wait_for([&](const Element& e) { return e.name() == "iq" && e.attr("id") == id; }, timeout);
  if (!reply || reply->attr("type") != "result") return std::nullopt;
  return seconds_since(t0, Clock::now());
}

}  // namespace rpsync::bench
