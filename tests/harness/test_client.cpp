#include "tests/harness/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "protocol/ns.h"

namespace rpsync::test {
namespace {

constexpr std::string_view kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBind = "urn:ietf:params:xml:ns:xmpp-bind";

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

TestClient::TestClient() {
  parser_ = std::make_unique<xml::StreamParser>(xml::StreamParser::Callbacks{
      .on_open =
          [this](const xml::Element& root) {
            opened_ = true;
            if (auto id = root.attr("id")) stream_id_ = std::string(*id);
          },
      .on_element = [this](xml::Element e) { inbox_.push_back(std::move(e)); },
      .on_close = [this] { closed_ = true; },
      .on_error = [this](const xml::ParseError&) { closed_ = true; },
      .on_oversized = {},
  });
}

TestClient::~TestClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool TestClient::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool TestClient::send(const xml::Element& stanza) {
  return send_raw(xml::to_string(stanza, stanza.ns().empty() ? "" : ns::kClient));
}

bool TestClient::send_presence(std::string_view show, std::string_view status) {
  xml::Element p("presence", std::string(ns::kClient));
  if (!show.empty()) p.add(xml::Element("show", std::string(ns::kClient))).set_text(std::string(show));
  if (!status.empty())
    p.add(xml::Element("status", std::string(ns::kClient))).set_text(std::string(status));
  return send(p);
}

bool TestClient::read_more(Millis timeout) {
  if (closed_ || fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return false;
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  parser_->feed(std::string_view(buf, static_cast<std::size_t>(n)));
  return true;
}

std::optional<xml::Element> TestClient::next(Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (inbox_.empty()) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) return std::nullopt;
    read_more(left);
  }
  xml::Element e = std::move(inbox_.front());
  inbox_.pop_front();
  return e;
}

std::optional<xml::Element> TestClient::wait_for(
    const std::function<bool(const xml::Element&)>& pred, Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto e = next(left);
    if (!e) return std::nullopt;
    if (pred(*e)) return e;
  }
}

bool TestClient::open_stream(const std::string& host, Millis timeout) {
  parser_->reset();
  opened_ = false;
  inbox_.clear();
  if (!send_raw("<?xml version='1.0'?><stream:stream to='" + xml::escape(host) +
                "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                "version='1.0'>"))
    return false;
  // Wait for <stream:features/>.
  auto features = wait_for([](const xml::Element& e) { return e.is("features", ns::kStreams); },
                           timeout);
  return features.has_value();
}

std::unique_ptr<TestClient> TestClient::login(uint16_t port, const std::string& user,
                                              const std::string& host, const std::string& password,
                                              const std::string& resource, std::string* why,
                                              Millis timeout) {
  auto fail = [&](std::string msg) -> std::unique_ptr<TestClient> {
    if (why) *why = user + "@" + host + ": " + std::move(msg);
    return nullptr;
  };
  std::unique_ptr<TestClient> c(new TestClient());
  c->fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (c->fd_ < 0 || ::connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return fail("connect failed");
  if (!c->open_stream(host, timeout)) return fail("no stream features");

  xml::Element auth("auth", std::string(kSasl));
  auth.set_attr("mechanism", "PLAIN");
  auth.set_text(base64(std::string(1, '\0') + user + std::string(1, '\0') + password));
  c->send(auth);
  auto answer = c->wait_for([](const xml::Element& e) { return e.ns() == kSasl; }, timeout);
  if (!answer || answer->name() != "success")
    return fail("SASL PLAIN failed: " + (answer ? xml::to_string(*answer) : "timeout"));

  if (!c->open_stream(host, timeout)) return fail("no stream features after SASL");
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("id", "bind-1");
  iq.add(xml::Element("bind", std::string(kBind)))
      .add(xml::Element("resource", std::string(kBind)))
      .set_text(resource);
  c->send(iq);
  auto bound = c->wait_for([](const xml::Element& e) { return e.attr("id") == "bind-1"; }, timeout);
  const xml::Element* b = bound ? bound->child("bind", kBind) : nullptr;
  auto jid = b ? b->child_text("jid", kBind) : std::nullopt;
  if (!jid) return fail("bind failed: " + (bound ? xml::to_string(*bound) : "timeout"));
  c->jid_ = std::string(*jid);
  return c;
}

void TestClient::close() {
  if (fd_ < 0) return;
  send_raw("<presence type='unavailable'/></stream:stream>");
  auto deadline = std::chrono::steady_clock::now() + Millis(1000);
  while (!closed_ && std::chrono::steady_clock::now() < deadline) read_more(Millis(100));
  ::close(fd_);
  fd_ = -1;
}

void TestClient::abort() {
  if (fd_ < 0) return;
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace rpsync::test
