// SPDX-License-Identifier: MIT
#include "bench/reconnect/restart_storm.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench/common/presence.h"
#include "protocol/ns.h"

namespace rpsync::bench {

namespace {

using Millis = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "rpsync_reconnect_bench: --restart: %s\n", why.c_str());
  std::exit(2);
}

// Contacts [from, from + count) send a new presence; each one's ping to the server returns
// after the server has handled it (one connection, in order).
void change(const RestartSetup& s, std::size_t from, std::size_t count, int round) {
  auto& contacts = *s.contacts;
  for (std::size_t i = from; i < from + count && i < contacts.size(); ++i) {
    const int n = static_cast<int>(i);
    contacts[i]->send(contact_presence(
        "round " + std::to_string(round) + " status of " + contact_name(n, 3), n + round));
  }
  for (std::size_t i = from; i < from + count && i < contacts.size(); ++i)
    if (!ping(*contacts[i], s.host, "rs" + std::to_string(i), Millis(30000)))
      fail("a contact's ping to the server failed");
}

bool not_ready(const xml::Element& e) {
  if (e.name() == "not-ready") return true;
  for (const auto& c : e.children())
    if (not_ready(c)) return true;
  return false;
}

// A checkpoint for a stream no key names: once the component serves requests again it
// answers with an error other than not-ready (the key is unknown).
void wait_ready(const RestartSetup& s) {
  auto& probe = *s.contacts->front();
  const auto deadline = Clock::now() + s.ready_timeout;
  for (int n = 0; Clock::now() < deadline; ++n) {
    const std::string id = "ready" + std::to_string(n);
    probe.send_raw("<iq type='set' id='" + id + "' to='" + s.component_jid +
                   "'><checkpoint xmlns='" + std::string(ns::kRpsync) +
                   "' stream='bench-probe' prev='none'/></iq>");
    auto answer =
        probe.wait_for([&](const xml::Element& e) { return e.attr("id") == id; }, Millis(5000));
    if (answer && answer->attr("type") == "error" && !not_ready(*answer)) return;
    std::this_thread::sleep_for(Millis(200));
  }
  fail("the component did not serve requests within the ready timeout after its restart");
}

}  // namespace

std::function<pid_t()> component_restarter(RestartSetup setup) {
  return [s = std::move(setup), round = 0]() mutable -> pid_t {
    ++round;
    const std::size_t tenth = std::max<std::size_t>(1, s.contacts->size() / 10);
    if (s.change_before) change(s, 0, tenth, round);
    // The server forwarded them before this ping (one stream to the component, in order).
    if (!ping(*s.contacts->front(), s.component_jid, "rsc", Millis(30000)))
      fail("the component did not answer a ping before its restart");
    if (s.kill)
      s.component->kill9();
    else
      s.component->terminate();
    change(s, tenth, tenth, round);
    std::string why;
    if (!s.component->start(&why)) fail("restart: " + why);
    wait_ready(s);
    return s.component->pid();
  };
}

}  // namespace rpsync::bench
