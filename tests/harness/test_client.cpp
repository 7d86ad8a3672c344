// SPDX-License-Identifier: MIT
#include "tests/harness/test_client.h"

#include <openssl/evp.h>

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

TestClient::TestClient(std::unique_ptr<XmlSocket> socket) : socket_(std::move(socket)) {}

TestClient::~TestClient() = default;

bool TestClient::send_raw(std::string_view bytes) {
  return socket_->send(bytes);
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

std::optional<xml::Element> TestClient::next(Millis timeout) {
  return socket_->next(timeout);
}

std::optional<xml::Element> TestClient::wait_for(
    const std::function<bool(const xml::Element&)>& pred, Millis timeout) {
  return socket_->wait_for(pred, timeout);
}

bool TestClient::open_stream(const std::string& host, Millis timeout) {
  socket_->restart_stream();
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
  std::string failed;
  auto socket = XmlSocket::connect(port, /*nodelay=*/false, &failed);
  if (!socket) return fail(failed);
  std::unique_ptr<TestClient> c(new TestClient(std::move(socket)));
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
  socket_->close("<presence type='unavailable'/></stream:stream>");
}

void TestClient::abort() {
  socket_->abort();
}

}  // namespace rpsync::test
