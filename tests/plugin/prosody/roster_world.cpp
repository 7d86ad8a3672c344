// SPDX-License-Identifier: MIT
#include "tests/plugin/prosody/roster_world.h"

#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/ns.h"
#include "tests/plugin/prosody/gate_world.h"

namespace rpsync::test::rosterver {
namespace fs = std::filesystem;
namespace {

std::string sha1_hex(std::string_view in) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(in.data(), in.size(), md, &n, EVP_sha1(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    out += buf;
  }
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

RawComponent::RawComponent(std::unique_ptr<XmlSocket> socket, std::string jid)
    : socket_(std::move(socket)), jid_(std::move(jid)) {}

RawComponent::~RawComponent() = default;

bool RawComponent::send(const xml::Element& stanza) {
  return socket_->send(xml::to_string(stanza, ns::kComponent));
}

std::optional<xml::Element> RawComponent::next(std::chrono::milliseconds timeout) {
  return socket_->next(timeout);
}

std::optional<xml::Element> RawComponent::request(const xml::Element& iq,
                                                  std::chrono::milliseconds timeout) {
  auto id = iq.attr("id");
  if (!id || !send(iq)) return std::nullopt;
  const std::string want(*id);
  return socket_->wait_for(
      [&](const xml::Element& s) { return s.name() == "iq" && s.attr("id") == want; }, timeout);
}

std::unique_ptr<RawComponent> RawComponent::connect(uint16_t port, const std::string& jid,
                                                    const std::string& secret,
                                                    bool await_privileges, std::string* why) {
  auto fail = [&](std::string msg) -> std::unique_ptr<RawComponent> {
    if (why) *why = jid + ": " + std::move(msg);
    return nullptr;
  };
  std::string failed;
  auto socket = XmlSocket::connect(port, /*nodelay=*/true, &failed);
  if (!socket) return fail(failed);
  std::unique_ptr<RawComponent> c(new RawComponent(std::move(socket), jid));
  if (!c->socket_->send("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                        "xmlns:stream='http://etherx.jabber.org/streams' to='" +
                        xml::escape(jid) + "'>"))
    return fail("send failed");
  if (!c->socket_->wait_opened(kTimeout) || c->socket_->stream_id().empty())
    return fail("no stream header from the server");
  xml::Element handshake("handshake", std::string(ns::kComponent));
  handshake.set_text(sha1_hex(c->socket_->stream_id() + secret));
  if (!c->send(handshake)) return fail("send failed");
  auto ok = c->next(kTimeout);
  if (!ok || ok->name() != "handshake")
    return fail("handshake refused: " + (ok ? xml::to_string(*ok) : std::string("timeout")));
  if (await_privileges) {
    for (int i = 0; i < 1000; ++i) {
      auto s = c->next(kTimeout);
      if (!s) return fail("no privilege advertisement");
      if (s->name() == "message" && s->child("privilege", ns::kPrivilege2)) break;
    }
  }
  return c;
}

std::unique_ptr<ProsodyServer> start_roster_server(const RosterServerOptions& options,
                                                   std::string* why, bool* not_installed) {
  *not_installed = !ProsodyServer::find_executable().has_value();
  auto server = ProsodyServer::create(ProsodyOptions{}, why);
  if (!server) return nullptr;
  auto& s = *server;
  s.add_user("alice", kHost, kPassword);
  for (const auto& u : options.extra_users) s.add_user(u, kHost, kPassword);
  for (int i = 0; i < options.contacts; ++i) {
    std::string user = "c" + std::to_string(i);
    std::string bare = user + "@" + kHost;
    s.add_user(user, kHost, kPassword);
    s.add_roster_item(kAlice, bare, Subscription::kBoth);
    s.add_roster_item(bare, kAlice, Subscription::kBoth);
  }
  if (options.load_module && !gate::load_gate_module(s, kHost, why)) return nullptr;
  // A second privileged component that has no roster permission (presence only).
  fs::path cfg = fs::path(s.dir()) / "prosody.cfg.lua";
  std::string text = read_file(cfg);
  const std::string grant = "[\"" + s.options().component_jid + "\"] = { roster = \"get\";";
  auto at = text.find(grant);
  if (at == std::string::npos) {
    if (why) *why = "unexpected harness config (no privileged_entities) in " + cfg.string();
    return nullptr;
  }
  text.insert(
      at, std::string("[\"") + kNoRightsComponent + "\"] = { presence = \"managed_entity\"; }; ");
  if (!options.global_config.empty()) {
    auto first_host = text.find("\nVirtualHost ");
    if (first_host == std::string::npos) {
      if (why) *why = "no VirtualHost section in " + cfg.string();
      return nullptr;
    }
    text.insert(first_host + 1, options.global_config + "\n");
  }
  if (!options.host_config.empty()) {
    const std::string section = std::string("VirtualHost \"") + kHost + "\"\n";
    auto host_at = text.find(section);
    if (host_at == std::string::npos) {
      if (why) *why = "no VirtualHost section in " + cfg.string();
      return nullptr;
    }
    text.insert(host_at + section.size(), options.host_config + "\n");
  }
  text += std::string("Component \"") + kNoRightsComponent + "\"\n  component_secret = \"" +
          s.options().component_secret + "\"\n  modules_enabled = { \"privilege\" }\n";
  std::ofstream(cfg, std::ios::trunc) << text;
  if (!s.launch()) {
    if (why) *why = "prosody did not come up; log:\n" + s.log();
    return nullptr;
  }
  return server;
}

xml::Element roster_get(std::string id, std::optional<std::string> to,
                        std::optional<std::string> ver, std::string_view stanza_ns) {
  xml::Element iq("iq", std::string(stanza_ns));
  iq.set_attr("type", "get");
  iq.set_attr("id", std::move(id));
  if (to) iq.set_attr("to", *to);
  xml::Element& q = iq.add(xml::Element("query", std::string(ns::kRoster)));
  if (ver) q.set_attr("ver", *ver);
  return iq;
}

const xml::Element* roster_query(const xml::Element& iq) {
  return iq.child("query", ns::kRoster);
}

namespace {
Item item_of(const xml::Element& e) {
  Item it;
  it.subscription = std::string(e.attr("subscription").value_or("none"));
  it.ask = std::string(e.attr("ask").value_or(""));
  if (auto n = e.attr("name")) it.name = std::string(*n);
  for (const auto& g : e.children())
    if (g.is("group", ns::kRoster)) it.groups.insert(g.text());
  return it;
}
}  // namespace

Roster parse_roster(const xml::Element& query) {
  Roster r;
  for (const auto& e : query.children())
    if (e.is("item", ns::kRoster)) r[std::string(e.attr("jid").value_or(""))] = item_of(e);
  return r;
}

bool apply_push(Roster& roster, const xml::Element& push) {
  if (push.attr("type") != "set") return false;
  const xml::Element* q = roster_query(push);
  if (!q || q->children().size() != 1 || !q->children()[0].is("item", ns::kRoster)) return false;
  const xml::Element& e = q->children()[0];
  auto jid = e.attr("jid");
  if (!jid) return false;
  if (e.attr("subscription") == "remove")
    roster.erase(std::string(*jid));
  else
    roster[std::string(*jid)] = item_of(e);
  return true;
}

std::string describe(const Roster& roster) {
  std::string out;
  for (const auto& [jid, it] : roster) {
    out += jid + " sub=" + it.subscription;
    if (!it.ask.empty()) out += " ask=" + it.ask;
    if (it.name) out += " name=" + *it.name;
    for (const auto& g : it.groups) out += " group=" + g;
    out += "\n";
  }
  return out;
}

}  // namespace rpsync::test::rosterver
