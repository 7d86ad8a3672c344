#include "tests/plugin/prosody/roster_world.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

RawComponent::RawComponent() {
  parser_ = std::make_unique<xml::StreamParser>(xml::StreamParser::Callbacks{
      .on_open =
          [this](const xml::Element& root) {
            if (auto id = root.attr("id")) stream_id_ = std::string(*id);
          },
      .on_element = [this](xml::Element e) { inbox_.push_back(std::move(e)); },
      .on_close = [this] { closed_ = true; },
      .on_error = [this](const xml::ParseError&) { closed_ = true; },
      .on_oversized = {},
  });
}

RawComponent::~RawComponent() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawComponent::send(const xml::Element& stanza) {
  std::string bytes = xml::to_string(stanza, ns::kComponent);
  std::string_view rest = bytes;
  while (!rest.empty()) {
    ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawComponent::read_more(std::chrono::milliseconds timeout) {
  if (closed_ || fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  wire_bytes_ += static_cast<std::size_t>(n);
  parser_->feed(std::string_view(buf, static_cast<std::size_t>(n)));
  return true;
}

std::optional<xml::Element> RawComponent::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (inbox_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return std::nullopt;
    read_more(left);
  }
  xml::Element e = std::move(inbox_.front());
  inbox_.pop_front();
  return e;
}

std::optional<xml::Element> RawComponent::request(const xml::Element& iq,
                                                  std::chrono::milliseconds timeout) {
  auto id = iq.attr("id");
  if (!id || !send(iq)) return std::nullopt;
  std::string want(*id);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto s = next(left);
    if (!s) break;
    if (s->name() == "iq" && s->attr("id") == want) return s;
  }
  return std::nullopt;
}

std::unique_ptr<RawComponent> RawComponent::connect(uint16_t port, const std::string& jid,
                                                    const std::string& secret,
                                                    bool await_privileges, std::string* why) {
  auto fail = [&](std::string msg) -> std::unique_ptr<RawComponent> {
    if (why) *why = jid + ": " + std::move(msg);
    return nullptr;
  };
  std::unique_ptr<RawComponent> c(new RawComponent());
  c->jid_ = jid;
  c->fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (c->fd_ < 0 || ::connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return fail("connect failed");
  int one = 1;
  ::setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string header = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                       "xmlns:stream='http://etherx.jabber.org/streams' to='" +
                       xml::escape(jid) + "'>";
  if (::send(c->fd_, header.data(), header.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(header.size()))
    return fail("send failed");
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (c->stream_id_.empty() && !c->closed_ && std::chrono::steady_clock::now() < deadline)
    c->read_more(std::chrono::milliseconds(200));
  if (c->stream_id_.empty()) return fail("no stream header from the server");
  xml::Element handshake("handshake", std::string(ns::kComponent));
  handshake.set_text(sha1_hex(c->stream_id_ + secret));
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
  text.insert(at, std::string("[\"") + kNoRightsComponent +
                      "\"] = { presence = \"managed_entity\"; }; ");
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

const xml::Element* roster_query(const xml::Element& iq) { return iq.child("query", ns::kRoster); }

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
