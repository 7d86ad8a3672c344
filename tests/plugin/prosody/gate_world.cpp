// SPDX-License-Identifier: MIT
#include "tests/plugin/prosody/gate_world.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/ns.h"

namespace rpsync::test::gate {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPing = "urn:xmpp:ping";

std::string contact(int i) {
  return "c" + std::to_string(i);
}
std::string offline(int i) {
  return "off" + std::to_string(i);
}

xml::Element client_element(std::string name) {
  return xml::Element(std::move(name), std::string(ns::kClient));
}

}  // namespace

bool load_gate_module(const ProsodyServer& server, const std::string& host, std::string* why) {
  fs::path cfg = fs::path(server.dir()) / "prosody.cfg.lua";
  std::ifstream in(cfg);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto first_host = text.find("\nVirtualHost ");
  if (text.empty() || first_host == std::string::npos) {
    if (why) *why = "unexpected harness config in " + cfg.string();
    return false;
  }
  std::string out = text.substr(0, first_host + 1);
  out += "plugin_paths = { \"" RPSYNC_GATE_PLUGIN_DIR "\" }\n";
  std::istringstream lines(text.substr(first_host + 1));
  for (std::string line; std::getline(lines, line);) {
    out += line + "\n";
    if (line == "VirtualHost \"" + host + "\"") out += "  modules_enabled = { \"rpsync_gate\" }\n";
  }
  std::ofstream(cfg, std::ios::trunc) << out;
  return true;
}

xml::Element presence(bool marked, std::string_view show, std::string_view status) {
  xml::Element p = client_element("presence");
  if (!show.empty()) p.add(client_element("show")).set_text(std::string(show));
  if (!status.empty()) p.add(client_element("status")).set_text(std::string(status));
  if (marked) p.add(xml::Element("synced", std::string(ns::kRpsync)));
  return p;
}

bool has_marker(const xml::Element& stanza) {
  for (const auto& c : stanza.children())
    if (c.ns() == ns::kRpsync) return true;
  return false;
}

bool is_presence_from(const xml::Element& stanza, std::string_view from_prefix) {
  auto from = stanza.attr("from");
  return stanza.is("presence", ns::kClient) && from &&
         from->substr(0, from_prefix.size()) == from_prefix;
}

std::size_t Received::presences() const {
  return presences_from("");
}

std::size_t Received::presences_from(std::string_view from_prefix) const {
  std::size_t n = 0;
  for (const auto& s : stanzas)
    if (s.is("presence", ns::kClient) &&
        s.attr("from").value_or("").substr(0, from_prefix.size()) == from_prefix)
      ++n;
  return n;
}

Received collect_until_ping(TestClient& client, std::chrono::milliseconds timeout) {
  static std::atomic<int> counter{0};
  std::string id = "gate-ping-" + std::to_string(++counter);
  xml::Element iq = client_element("iq");
  iq.set_attr("type", "get");
  iq.set_attr("id", id);
  iq.set_attr("to", kHost);
  iq.add(xml::Element("ping", std::string(kPing)));
  Received r;
  if (!client.send(iq)) return r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto s = client.next(left);
    if (!s) break;
    if (s->is("iq", ns::kClient) && s->attr("id") == id) {
      r.complete = true;
      break;
    }
    r.bytes += xml::to_string(*s, ns::kClient).size();
    r.stanzas.push_back(std::move(*s));
  }
  return r;
}

std::unique_ptr<GateWorld> GateWorld::start(const WorldOptions& options, std::string* why,
                                            bool* not_installed) {
  *not_installed = !ProsodyServer::find_executable().has_value();
  std::unique_ptr<GateWorld> w(new GateWorld());
  w->options_ = options;
  ProsodyOptions server_options;
  if (options.other_host_contacts > 0) server_options.hosts.push_back(kOtherHost);
  w->server_ = ProsodyServer::create(server_options, why);
  if (!w->server_) return nullptr;
  auto& s = *w->server_;
  s.add_user("alice", kHost, kPassword);
  for (const auto& u : options.extra_users) s.add_user(u, kHost, kPassword);
  auto befriend = [&](const std::string& user, const std::string& host = kHost) {
    std::string bare = user + "@" + host;
    s.add_user(user, host, kPassword);
    s.add_roster_item(kAlice, bare, Subscription::kBoth);
    s.add_roster_item(bare, kAlice, Subscription::kBoth);
  };
  for (int i = 0; i < options.online_contacts; ++i) befriend(contact(i));
  for (int i = 0; i < options.offline_contacts; ++i) befriend(offline(i));
  for (int i = 0; i < options.other_host_contacts; ++i)
    befriend("x" + std::to_string(i), kOtherHost);
  // Only on alice's host: the probes are gated where their sender is.
  if (options.load_gate && !load_gate_module(s, kHost, why)) return nullptr;
  if (!s.launch()) {
    if (why) *why = "prosody did not come up; log:\n" + s.log();
    return nullptr;
  }
  for (int i = 0; i < options.online_contacts; ++i) {
    auto c = TestClient::login(s.c2s_port(), contact(i), kHost, kPassword, "r", why);
    if (!c) return nullptr;
    xml::Element p = presence(false, "away", "contact " + std::to_string(i));
    if (options.caps_presence) {
      // What a typical client shows: show, status, priority and XEP-0115 caps.
      p.add(client_element("priority")).set_text("5");
      xml::Element caps("c", std::string(ns::kCaps));
      caps.set_attr("hash", "sha-1");
      caps.set_attr("node", "https://conversations.im");
      caps.set_attr("ver", "Rx7Ff3PvYw3m8bEHl3kKzBqd+WQ=");
      p.add(std::move(caps));
    }
    if (!c->send(p) || !collect_until_ping(*c).complete) {
      if (why) *why = contact(i) + ": presence not processed";
      return nullptr;
    }
    w->contacts_.push_back(std::move(c));
  }
  for (int i = 0; i < options.other_host_contacts; ++i) {
    auto c =
        TestClient::login(s.c2s_port(), "x" + std::to_string(i), kOtherHost, kPassword, "r", why);
    if (!c || !c->send(presence(false)) || !collect_until_ping(*c).complete) {
      if (why && c) *why = "x" + std::to_string(i) + ": presence not processed";
      return nullptr;
    }
    w->contacts_.push_back(std::move(c));
  }
  return w;
}

std::unique_ptr<TestClient> GateWorld::login(const std::string& user, const std::string& resource,
                                             std::string* why) {
  return TestClient::login(server_->c2s_port(), user, kHost, kPassword, resource, why);
}

}  // namespace rpsync::test::gate
