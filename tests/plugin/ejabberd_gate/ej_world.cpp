// SPDX-License-Identifier: MIT
#include "tests/plugin/ejabberd_gate/ej_world.h"

#include <openssl/evp.h>

#include <atomic>
#include <cstdio>

#include "protocol/ns.h"

namespace rpsync::test::ejgate {
namespace {

constexpr std::string_view kPing = "urn:xmpp:ping";

xml::Element client_element(std::string name) {
  return xml::Element(std::move(name), std::string(ns::kClient));
}

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

xml::Element ping(const std::string& id, const std::string& to) {
  xml::Element iq = client_element("iq");
  iq.set_attr("type", "get");
  iq.set_attr("id", id);
  iq.set_attr("to", to);
  iq.add(xml::Element("ping", std::string(kPing)));
  return iq;
}

bool is_iq(const xml::Element& s, std::string_view type, const std::string& id) {
  return s.name() == "iq" && s.attr("type") == type && s.attr("id") == id;
}

// What a typical client shows beside show/status: priority and XEP-0115 caps.
void add_caps(xml::Element& p) {
  p.add(client_element("priority")).set_text("5");
  xml::Element caps("c", std::string(ns::kCaps));
  caps.set_attr("hash", "sha-1");
  caps.set_attr("node", "https://conversations.im");
  caps.set_attr("ver", "Rx7Ff3PvYw3m8bEHl3kKzBqd+WQ=");
  p.add(std::move(caps));
}

}  // namespace

std::optional<xml::Element> Peer::take(const Pred& pred, std::chrono::milliseconds timeout) {
  for (auto it = buffer_.begin(); it != buffer_.end(); ++it)
    if (pred(*it)) {
      xml::Element e = std::move(*it);
      buffer_.erase(it);
      return e;
    }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto s = client_->next(left);
    if (!s) break;
    if (pred(*s)) return s;
    buffer_.push_back(std::move(*s));
  }
  return std::nullopt;
}

std::vector<xml::Element> Peer::take_buffer() {
  std::vector<xml::Element> out(std::make_move_iterator(buffer_.begin()),
                                std::make_move_iterator(buffer_.end()));
  buffer_.clear();
  return out;
}

std::vector<xml::Element> Peer::drain(std::chrono::milliseconds quiet) {
  for (int i = 0; i < 100000; ++i) {
    auto s = client_->next(quiet);
    if (!s) break;
    buffer_.push_back(std::move(*s));
  }
  return take_buffer();
}

std::size_t Received::presences_from(std::string_view from_prefix) const {
  std::size_t n = 0;
  for (const auto& s : stanzas)
    if (is_presence_from(s, from_prefix)) ++n;
  return n;
}

Received EjWorld::barrier(Peer& client) {
  static std::atomic<int> counter{0};
  const std::string tag = "barrier-" + std::to_string(++counter) + "-";
  Received r;
  for (std::size_t i = 0; i < contacts_.size(); ++i)
    if (!client.send(ping(tag + std::to_string(i), contacts_[i]->jid()))) return r;
  for (std::size_t i = 0; i < contacts_.size(); ++i) {
    const std::string id = tag + std::to_string(i);
    auto got = contacts_[i]->take([&](const xml::Element& s) { return is_iq(s, "get", id); });
    if (!got) return r;
    xml::Element result = client_element("iq");
    result.set_attr("type", "result");
    result.set_attr("id", id);
    result.set_attr("to", client.jid());
    if (!contacts_[i]->send(result)) return r;
  }
  if (!client.send(ping(tag + "server", kHost))) return r;
  for (std::size_t i = 0; i <= contacts_.size(); ++i) {
    const std::string id = tag + (i < contacts_.size() ? std::to_string(i) : "server");
    if (!client.take([&](const xml::Element& s) { return is_iq(s, "result", id); })) return r;
  }
  r.stanzas = client.take_buffer();
  for (const auto& s : r.stanzas) r.bytes += xml::to_string(s, ns::kClient).size();
  r.complete = true;
  return r;
}

std::unique_ptr<Peer> EjWorld::login(const std::string& user, const std::string& resource,
                                     std::string* why) {
  auto c = TestClient::login(server_->c2s_port(), user, kHost, kPassword, resource, why);
  return c ? std::make_unique<Peer>(std::move(c)) : nullptr;
}

std::unique_ptr<EjWorld> EjWorld::start(const WorldOptions& options, std::string* why,
                                        bool* not_installed) {
  *not_installed = !EjabberdServer::find_executable().has_value();
  EjabberdOptions eo;
  eo.component_jid = kComponent;
  eo.resume_timeout_s = options.resume_timeout_s;
  if (options.load_gate) {
    eo.gate_beam_dir = EjabberdServer::built_gate_dir();
    eo.gate_components = options.components;
    if (eo.gate_beam_dir.empty()) {
      *not_installed = true;
      if (why) *why = "mod_rpsync_gate.beam was not built (no erlc or ejabberd headers)";
      return nullptr;
    }
  }
  std::unique_ptr<EjWorld> w(new EjWorld());
  w->options_ = options;
  w->server_ = EjabberdServer::create(eo, why);
  if (!w->server_) return nullptr;
  auto& s = *w->server_;
  s.add_user("alice", kHost, kPassword);
  for (const auto& u : options.extra_users) s.add_user(u, kHost, kPassword);
  auto befriend = [&](const std::string& user) {
    std::string bare = user + "@" + kHost;
    s.add_user(user, kHost, kPassword);
    s.add_roster_item(kAlice, bare, "both");
    s.add_roster_item(bare, kAlice, "both");
  };
  for (int i = 0; i < options.online_contacts; ++i) befriend("c" + std::to_string(i));
  for (int i = 0; i < options.offline_contacts; ++i) befriend("off" + std::to_string(i));
  if (!s.launch()) {
    if (why) *why = "ejabberd did not come up; log:\n" + s.log();
    return nullptr;
  }
  for (int i = 0; i < options.online_contacts; ++i) {
    auto c = w->login("c" + std::to_string(i), "r", why);
    xml::Element p = presence(false, "away", "contact " + std::to_string(i));
    if (options.caps_presence) add_caps(p);
    if (!c || !c->send(p)) return nullptr;
    w->contacts_.push_back(std::move(c));
  }
  for (auto& c : w->contacts_)
    if (!w->barrier(*c).complete) {
      if (why) *why = c->jid() + ": presence not settled";
      return nullptr;
    }
  return w;
}

std::unique_ptr<RawComponent> RawComponent::connect(std::uint16_t port, const std::string& jid,
                                                    const std::string& secret, std::string* why) {
  auto fail = [&](std::string msg) -> std::unique_ptr<RawComponent> {
    if (why) *why = jid + ": " + std::move(msg);
    return nullptr;
  };
  std::string failed;
  auto socket = XmlSocket::connect(port, /*nodelay=*/true, &failed);
  if (!socket) return fail(failed);
  if (!socket->send("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                    "xmlns:stream='http://etherx.jabber.org/streams' to='" +
                    xml::escape(jid) + "'>"))
    return fail("send failed");
  if (!socket->wait_opened(kTimeout) || socket->stream_id().empty())
    return fail("no stream header from the server");
  std::unique_ptr<RawComponent> c(new RawComponent(std::move(socket)));
  xml::Element handshake("handshake", std::string(ns::kComponent));
  handshake.set_text(sha1_hex(c->socket_->stream_id() + secret));
  if (!c->send(handshake)) return fail("send failed");
  auto ok = c->next(kTimeout);
  if (!ok || ok->name() != "handshake")
    return fail("handshake refused: " + (ok ? xml::to_string(*ok) : std::string("timeout")));
  return c;
}

bool RawComponent::send(const xml::Element& stanza) {
  return socket_->send(xml::to_string(stanza, ns::kComponent));
}

xml::Element presence(bool marked, std::string_view show, std::string_view status) {
  xml::Element p = client_element("presence");
  if (!show.empty()) p.add(client_element("show")).set_text(std::string(show));
  if (!status.empty()) p.add(client_element("status")).set_text(std::string(status));
  if (marked) p.add(xml::Element("synced", std::string(ns::kRpsync)));
  return p;
}

xml::Element unavailable() {
  xml::Element p = client_element("presence");
  p.set_attr("type", "unavailable");
  return p;
}

bool has_marker(const xml::Element& stanza) {
  for (const auto& c : stanza.children())
    if (c.ns() == ns::kRpsync) return true;
  return false;
}

bool is_presence_from(const xml::Element& stanza, std::string_view from_prefix) {
  auto from = stanza.attr("from");
  return stanza.name() == "presence" && from && from->substr(0, from_prefix.size()) == from_prefix;
}

std::size_t contact_presences(const Received& r) {
  return r.presences_from("c") + r.presences_from("off");
}

}  // namespace rpsync::test::ejgate
