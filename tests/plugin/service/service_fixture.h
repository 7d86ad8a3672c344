// SPDX-License-Identifier: MIT
// Test fixture for the service: the real engine, an in-memory store and a recording fake
// transport through which the test plays the server (answers roster fetches and pings).
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plugin/service/service.h"
#include "protocol/ns.h"

namespace rpsync::service::test {

using proto::AppCondition;
using proto::Condition;

class FakeTransport : public Transport {
 public:
  bool send(xml::Element stanza) override {
    sent.push_back(std::move(stanza));
    return true;
  }
  void request(xml::Element iq, std::chrono::milliseconds, Reply done) override {
    requests.push_back({std::move(iq), std::move(done)});
  }
  struct Pending {
    xml::Element iq;
    Reply done;
  };
  std::deque<xml::Element> sent;
  std::deque<Pending> requests;

  xml::Element take() {
    EXPECT_FALSE(sent.empty());
    if (sent.empty()) return {};
    auto e = std::move(sent.front());
    sent.pop_front();
    return e;
  }
  // Answers the oldest pending request, which must be a ping to `to`, with a result or
  // with the stanza error `error`.
  void answer_ping(std::string_view to, std::optional<proto::StanzaError> error = {}) {
    ASSERT_FALSE(requests.empty());
    auto p = std::move(requests.front());
    requests.pop_front();
    EXPECT_EQ(p.iq.attr("to"), to);
    ASSERT_TRUE(p.iq.child("ping", ns::kPing));
    if (error) return p.done(*error);
    xml::Element result("iq", std::string(ns::kComponent));
    result.set_attr("type", "result");
    p.done(std::move(result));
  }
  // Answers the oldest roster fetch with these contacts (jid -> subscription), the full
  // roster; versioned when `ver` is given (mod_rpsync_gate), else as mod_privilege does.
  void answer_roster(const std::vector<std::pair<std::string, std::string>>& items,
                     std::optional<std::string> ver = std::nullopt) {
    auto p = take_roster_request();
    if (!p) return;
    xml::Element result("iq", std::string(ns::kComponent));
    result.set_attr("type", "result");
    auto& q = result.add(xml::Element("query", std::string(ns::kRoster)));
    if (ver) q.set_attr("ver", *ver);
    for (const auto& [jid, sub] : items) {
      auto& item = q.add(xml::Element("item", std::string(ns::kRoster)));
      item.set_attr("jid", jid);
      item.set_attr("subscription", sub);
    }
    p->done(std::move(result));
  }
  // Answers the oldest roster fetch with an empty result: "unchanged since your version".
  void answer_roster_unchanged() {
    auto p = take_roster_request();
    if (!p) return;
    xml::Element result("iq", std::string(ns::kComponent));
    result.set_attr("type", "result");
    p->done(std::move(result));
  }
  // Answers the oldest roster fetch with a result carrying `child` instead of a <query/>.
  void answer_roster_with(xml::Element child) {
    auto p = take_roster_request();
    if (!p) return;
    xml::Element result("iq", std::string(ns::kComponent));
    result.set_attr("type", "result");
    result.add(std::move(child));
    p->done(std::move(result));
  }
  // Fails the oldest roster fetch (a stanza error, a timeout or a drop, as the transport
  // reports them).
  void fail_roster(proto::StanzaError error) {
    auto p = take_roster_request();
    if (!p) return;
    p->done(std::move(error));
  }
  // The ver the oldest pending roster fetch quotes, nullopt if none (or no fetch pending).
  std::optional<std::string> quoted_ver() const {
    if (requests.empty()) return std::nullopt;
    const xml::Element* q = requests.front().iq.child("query", ns::kRoster);
    if (!q) return std::nullopt;
    auto v = q->attr("ver");
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  }

 private:
  std::optional<Pending> take_roster_request() {
    EXPECT_FALSE(requests.empty()) << "no request pending";
    if (requests.empty()) return std::nullopt;
    auto p = std::move(requests.front());
    requests.pop_front();
    EXPECT_EQ(p.iq.attr("type"), "get");
    EXPECT_TRUE(p.iq.child("query", ns::kRoster)) << xml::to_string(p.iq);
    return p;
  }
};

inline xml::Element stanza(std::string_view text) {
  return std::get<xml::Element>(
             xml::parse("<wrap xmlns='jabber:component:accept'>" + std::string(text) + "</wrap>"))
      .children()
      .front();
}

class ServiceTest : public ::testing::Test {
 protected:
  explicit ServiceTest(bool unreported = false,
                       std::size_t roster_cache_contacts = ServiceConfig{}.roster_cache_contacts)
      : ServiceTest(configured(unreported, roster_cache_contacts)) {}
  // The real engine and an in-memory store under `config`, connected and privileged.
  explicit ServiceTest(const ServiceConfig& config) {
    core::EngineOptions options;
    options.clock = [this] { return now_ms; };
    engine = std::make_unique<core::Engine>(options);
    store = std::move(store::open_store("memory:")).value();
    service = std::make_unique<Service>(config, *engine, *store, transport, logger,
                                        [this] { return now_ms; });
    service->on_connected(true);
  }
  static ServiceConfig configured(
      bool unreported = false,
      std::size_t roster_cache_contacts = ServiceConfig{}.roster_cache_contacts) {
    ServiceConfig config;
    config.component_jid = "rpsync.example.test";
    config.domains = {"example.test"};
    config.requests_per_minute = 5;
    config.server_view = unreported ? ServerView::kUnreported : ServerView::kResends;
    config.roster_cache_contacts = roster_cache_contacts;
    return config;
  }

  void presence(std::string from, std::string children = "", std::string type = "") {
    service->on_stanza(stanza("<presence from='" + from + "' to='rpsync.example.test'" +
                              (type.empty() ? "" : " type='" + type + "'") + ">" + children +
                              "</presence>"));
  }
  void iq(std::string from, std::string id, std::string payload, std::string type = "set") {
    service->on_stanza(stanza("<iq type='" + type + "' id='" + id + "' from='" + from +
                              "' to='rpsync.example.test'>" + payload + "</iq>"));
  }
  static const xml::Element* rpsync_child(const xml::Element& iq) {
    for (const auto& c : iq.children())
      if (c.ns() == ns::kRpsync) return &c;
    return nullptr;
  }
  proto::StanzaError error_of(const xml::Element& reply) {
    EXPECT_EQ(reply.attr("type"), "error") << xml::to_string(reply);
    const xml::Element* e = reply.child("error");
    if (!e) return {};
    return proto::parse_stanza_error(*e).value_or(proto::StanzaError{});
  }

  std::int64_t now_ms = 1'000'000;
  log::NullLogger logger;
  FakeTransport transport;
  std::unique_ptr<core::Engine> engine;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Service> service;
  const std::vector<std::pair<std::string, std::string>> roster{
      {"bob@example.test", "both"}, {"carol@other.test", "to"}, {"mallory@example.test", "from"}};
};

}  // namespace rpsync::service::test
