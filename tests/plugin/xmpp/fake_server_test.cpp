// SPDX-License-Identifier: MIT
// The component connection against a fake server we control on a loopback acceptor:
// it plays the server's side of XEP-0114 and then misbehaves (garbage, stream errors,
// huge stanzas, silence, a full socket). The component must report, recover, never crash.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <deque>
#include <memory>
#include <random>

#include "plugin/xmpp/connection.h"
#include "plugin/xmpp/stream.h"
#include "protocol/error.h"
#include "protocol/ns.h"
#include "tests/plugin/xmpp/support.h"

namespace rpsync::xmpp {
namespace {

using namespace std::chrono_literals;
using testing::CapturingLogger;
using testing::RecordingHandler;
using testing::run_for;
using testing::run_until;
using Kind = DisconnectReason::Kind;

constexpr std::string_view kServerHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='rpsync.example.test'>";
// sha1("abc" + "s3cret"), computed with python's hashlib.
constexpr std::string_view kGoodHandshake =
    "<handshake>31998b73ea3a9f9924c37e68133695467a6701e6</handshake>";
constexpr std::string_view kPrivileges =
    "<message from='example.test' to='rpsync.example.test'>"
    "<privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='get'/>"
    "<perm access='presence' type='roster'/></privilege></message>";

// One accepted connection of the fake server.
struct Peer : std::enable_shared_from_this<Peer> {
  explicit Peer(asio::ip::tcp::socket s) : socket(std::move(s)) {}
  asio::ip::tcp::socket socket;
  std::string in;
  bool header_seen = false;
  bool handshake_seen = false;
  bool reading = true;
  bool eof = false;
  std::deque<std::string> out;
  std::array<char, 8192> buf{};

  void send(std::string bytes) {
    out.push_back(std::move(bytes));
    if (out.size() == 1) write_next();
  }
  void write_next() {
    auto self = shared_from_this();
    asio::async_write(socket, asio::buffer(out.front()), [self](std::error_code ec, std::size_t) {
      if (ec) return;
      self->out.pop_front();
      if (!self->out.empty()) self->write_next();
    });
  }
  void close() {
    std::error_code ec;
    socket.close(ec);
  }
};

// Plays the server: answers the stream header and the handshake, then hands over to
// the test's hooks.
struct FakeServer {
  explicit FakeServer(asio::io_context& io)
      : acceptor(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    accept();
  }
  asio::ip::tcp::acceptor acceptor;
  std::vector<std::shared_ptr<Peer>> peers;
  bool stop_reading = false;  // new peers are never read (backpressure test)
  std::function<void(Peer&)> after_header = [](Peer& p) { p.send(std::string(kServerHeader)); };
  std::function<void(Peer&)> after_handshake = [](Peer& p) {
    p.send("<handshake/>" + std::string(kPrivileges));
  };
  std::function<void(Peer&)> on_data;  // every read after the handshake

  uint16_t port() const { return acceptor.local_endpoint().port(); }

  void accept() {
    acceptor.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      auto peer = std::make_shared<Peer>(std::move(s));
      peers.push_back(peer);
      if (!stop_reading) read(peer);
      accept();
    });
  }
  void read(const std::shared_ptr<Peer>& peer) {
    peer->socket.async_read_some(
        asio::buffer(peer->buf), [this, peer](std::error_code ec, std::size_t n) {
          if (ec) {
            peer->eof = true;
            return;
          }
          peer->in.append(peer->buf.data(), n);
          if (!peer->header_seen && peer->in.find("<stream:stream") != std::string::npos &&
              peer->in.find('>', peer->in.find("<stream:stream")) != std::string::npos) {
            peer->header_seen = true;
            after_header(*peer);
          }
          if (peer->header_seen && !peer->handshake_seen &&
              peer->in.find("</handshake>") != std::string::npos) {
            peer->handshake_seen = true;
            if (peer->in.find(kGoodHandshake) != std::string::npos) {
              after_handshake(*peer);
            } else {
              peer->send(stream_error_bytes("not-authorized"));
            }
          } else if (peer->handshake_seen && on_data) {
            on_data(*peer);
          }
          if (peer->socket.is_open()) read(peer);
        });
  }
};

ComponentConfig fast_config(uint16_t port) {
  ComponentConfig c;
  c.port = port;
  c.secret = "s3cret";
  c.served_hosts = {"example.test"};
  c.backoff_min = 20ms;
  c.backoff_max = 80ms;
  c.privilege_timeout = 300ms;
  c.handshake_timeout = 1000ms;
  c.close_timeout = 300ms;
  return c;
}

class FakeServerTest : public ::testing::Test {
 protected:
  asio::io_context io;
  FakeServer server{io};
  RecordingHandler handler;
  CapturingLogger logger;

  std::unique_ptr<Connection> connect(ComponentConfig c) {
    auto conn = std::make_unique<Connection>(io, std::move(c), handler, logger, [] { return 0.5; });
    conn->start();
    return conn;
  }
};

TEST_F(FakeServerTest, HandshakeThenAsyncV1PrivilegesMakeItReady) {
  server.after_handshake = [this](Peer& p) {
    p.send("<handshake/>");
    // ejabberd advertises asynchronously: a moment later, after a normal stanza.
    auto t = std::make_shared<asio::steady_timer>(io, 50ms);
    auto peer = p.shared_from_this();
    t->async_wait([t, peer](std::error_code) {
      peer->send("<presence from='a@example.test/r' to='rpsync.example.test'/>" +
                 std::string(kPrivileges));
    });
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.connected.empty(); }, 3s))
      << logger.all();
  EXPECT_TRUE(conn->ready());
  EXPECT_EQ(handler.connected[0].hosts.at("example.test").ns, ns::kPrivilege1);
  ASSERT_EQ(handler.stanzas.size(), 1u);  // the presence; the advertisement is consumed
  EXPECT_TRUE(handler.stanzas[0].is("presence", ns::kComponent));
  EXPECT_NE(server.peers[0]->in.find(kGoodHandshake), std::string::npos);
}

TEST_F(FakeServerTest, AdvertisementFromAHostNotServedIsIgnored) {
  server.after_handshake = [](Peer& p) {
    p.send(
        "<handshake/><message from='evil.example'><privilege xmlns='urn:xmpp:privilege:2'>"
        "<perm access='roster' type='none'/></privilege></message>" +
        std::string(kPrivileges));
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.connected.empty(); }, 3s))
      << logger.all();
  EXPECT_FALSE(handler.connected[0].has("evil.example"));
  EXPECT_TRUE(conn->ready());
  EXPECT_TRUE(logger.contains("host=evil.example")) << logger.all();
}

TEST_F(FakeServerTest, WrongSecretIsReportedAsNotAuthorizedAndBacksOff) {
  auto c = fast_config(server.port());
  c.secret = "wrong";
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return handler.disconnected.size() >= 3; }, 3s));
  for (const auto& d : handler.disconnected) {
    EXPECT_EQ(d.kind, Kind::kStreamError);
    EXPECT_EQ(d.condition, "not-authorized");
    EXPECT_FALSE(d.was_authenticated);
  }
  EXPECT_TRUE(handler.connected.empty());
  EXPECT_TRUE(logger.contains("component_secret")) << logger.all();
}

TEST_F(FakeServerTest, GarbageFromServerIsAProtocolErrorAndItReconnects) {
  server.after_header = [](Peer& p) { p.send(std::string(kServerHeader) + "<<<&&& not xml"); };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return server.peers.size() >= 3; }, 3s))
      << logger.all();
  ASSERT_FALSE(handler.disconnected.empty());
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kProtocolError);
  EXPECT_EQ(handler.disconnected[0].condition, "not-well-formed");
  run_until(
      io, [&] { return server.peers[0]->in.find("not-well-formed") != std::string::npos; }, 1s);
  EXPECT_NE(server.peers[0]->in.find("not-well-formed"), std::string::npos);
}

TEST_F(FakeServerTest, StreamErrorHostUnknownNamesTheMissingComponentConfig) {
  server.after_header = [](Peer& p) {
    p.send(std::string(kServerHeader) + stream_error_bytes("host-unknown"));
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.disconnected.empty(); }, 3s));
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kStreamError);
  EXPECT_EQ(handler.disconnected[0].condition, "host-unknown");
  EXPECT_TRUE(logger.contains("Component \\\"rpsync.example.test\\\"")) << logger.all();
}

TEST_F(FakeServerTest, OversizedStanzaIsSkippedAndTheStreamGoesOn) {
  auto c = fast_config(server.port());
  c.max_stanza_size = 4096;
  server.after_handshake = [](Peer& p) {
    p.send("<handshake/>" + std::string(kPrivileges) +
           "<presence from='big@example.test/r' id='huge'><status>" + std::string(100'000, 'x') +
           "</status></presence><presence from='small@example.test/r'/>");
  };
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.stanzas.empty(); }, 3s))
      << logger.all();
  ASSERT_EQ(handler.oversized.size(), 1u);
  EXPECT_EQ(handler.oversized[0].attr("from"), "big@example.test/r");
  EXPECT_EQ(handler.stanzas[0].attr("from"), "small@example.test/r");
  EXPECT_TRUE(handler.disconnected.empty());
  EXPECT_EQ(conn->state(), State::kConnected);
}

TEST_F(FakeServerTest, HugeSingleTokenIsAPolicyViolationAndItReconnects) {
  auto c = fast_config(server.port());
  c.max_stanza_size = 4096;
  c.max_result_size = 4096;  // a single token over the larger stanza bound ends the stream
  server.after_handshake = [](Peer& p) {
    p.send("<handshake/>" + std::string(kPrivileges) + "<presence from='" +
           std::string(200'000, 'a'));
  };
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return handler.connected.size() >= 2; }, 3s))
      << logger.all();
  ASSERT_FALSE(handler.disconnected.empty());
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kProtocolError);
  EXPECT_EQ(handler.disconnected[0].condition, "policy-violation");
  EXPECT_TRUE(handler.disconnected[0].was_authenticated);
}

// Every class of stanza a server relays but the component will not hold, with the
// default bounds: each is skipped, the stream stays up, and what follows is read.
TEST_F(FakeServerTest, EveryLimitSkipsTheStanzaWithDefaultBounds) {
  std::string deep = "<iq type='set' id='deep' from='eve@example.test/x'>";
  for (int i = 0; i < 5000; ++i) deep += "<x xmlns='urn:n'>";
  for (int i = 0; i < 5000; ++i) deep += "</x>";
  deep += "</iq>";
  std::string attrs = "<message id='attrs' from='eve@example.test/x'";
  for (int i = 0; i < 3000; ++i) attrs += " a" + std::to_string(i) + "='v'";
  attrs += "/>";
  // Prosody's largest relayed stanza, re-escaped: 512 KiB of ' as &apos; is 3 MiB.
  std::string text;
  text.reserve(6 * 600'000);
  for (int i = 0; i < 600'000; ++i) text += "&apos;";
  const std::string big =
      "<presence id='big' from='eve@example.test/x'><status>" + text + "</status></presence>";
  server.after_handshake = [=](Peer& p) {
    p.send("<handshake/>" + std::string(kPrivileges) + deep + attrs + big +
           "<presence from='small@example.test/r'/>");
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.stanzas.empty(); }, 10s))
      << logger.all();
  ASSERT_EQ(handler.oversized.size(), 3u);
  EXPECT_EQ(handler.oversized[0].attr("id"), "deep");
  EXPECT_EQ(handler.oversized[1].attr("id"), "attrs");
  EXPECT_EQ(handler.oversized[2].attr("id"), "big");
  EXPECT_EQ(handler.stanzas[0].attr("from"), "small@example.test/r");
  EXPECT_TRUE(handler.disconnected.empty());
  EXPECT_EQ(conn->state(), State::kConnected);
}

TEST_F(FakeServerTest, StanzaOverTheOutgoingLimitIsRefusedNotSent) {
  auto c = fast_config(server.port());
  c.max_outgoing_stanza_size = 16 * 1024;
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.connected.empty(); }, 3s))
      << logger.all();
  xml::Element big("message");
  big.set_attr("to", "a@example.test");
  big.add(xml::Element("body")).set_text(std::string(20'000, 'x'));
  EXPECT_EQ(conn->send(big), SendResult::kTooLarge);
  xml::Element small("message");
  small.set_attr("to", "a@example.test");
  EXPECT_EQ(conn->send(small), SendResult::kQueued);
  EXPECT_EQ(conn->state(), State::kConnected);
}

TEST_F(FakeServerTest, RandomBytesNeverCrashAndEveryFailureIsReported) {
  std::mt19937 rng(1234);
  server.after_header = [&](Peer& p) {
    std::string junk(static_cast<std::size_t>(rng() % 3000), '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng() % 256);
    // Half the time a valid header first, so the garbage hits the stanza parser too.
    p.send((rng() % 2 ? std::string(kServerHeader) : std::string()) + junk);
    p.close();
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return handler.disconnected.size() >= 20; }, 10s));
  EXPECT_GE(server.peers.size(), 20u);
}

TEST_F(FakeServerTest, FullWriteQueueRefusesStanzasThenDrains) {
  auto c = fast_config(server.port());
  c.write_queue_limit = 64 * 1024;
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return conn->ready(); }, 3s))
      << logger.all();
  xml::Element msg("message", std::string(ns::kComponent));
  msg.set_attr("to", "a@example.test");
  msg.add(xml::Element("body", std::string(ns::kComponent))).set_text(std::string(1000, 'b'));
  // Without running the io_context nothing completes: the queue must hit its limit.
  int queued = 0;
  SendResult r = SendResult::kQueued;
  for (int i = 0; i < 1000 && r == SendResult::kQueued; ++i)
    if ((r = conn->send(msg)) == SendResult::kQueued) ++queued;
  EXPECT_EQ(r, SendResult::kQueueFull);
  EXPECT_LE(conn->queued_bytes(), c.write_queue_limit);
  EXPECT_GE(queued, 50);
  EXPECT_LT(queued, 70);
  ASSERT_TRUE(run_until(
      io, [&] { return conn->queued_bytes() == 0; }, 3s));
  EXPECT_NE(server.peers[0]->in.find("<message to='a@example.test'><body>bbb"), std::string::npos);
  xml::Element no_ns("message");  // built without a namespace: the stream's default applies
  no_ns.set_attr("to", "b@example.test");
  no_ns.add(xml::Element("body")).set_text(std::string(1000, 'c'));
  EXPECT_EQ(conn->send(no_ns), SendResult::kQueued);
  ASSERT_TRUE(run_until(
      io,
      [&] {
        return server.peers[0]->in.find("<message to='b@example.test'><body>ccc") !=
               std::string::npos;
      },
      3s))
      << server.peers[0]->in.substr(server.peers[0]->in.size() - 200);
}

TEST_F(FakeServerTest, SilentServerIsDetectedDeadByKeepalive) {
  auto c = fast_config(server.port());
  c.keepalive_interval = 100ms;
  c.ping_timeout = 150ms;
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return !handler.disconnected.empty(); }, 3s))
      << logger.all();
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kTimeout);
  EXPECT_TRUE(handler.disconnected[0].was_authenticated);
  EXPECT_NE(server.peers[0]->in.find("urn:xmpp:ping"), std::string::npos);
}

TEST_F(FakeServerTest, AnsweredPingsKeepTheConnectionUp) {
  auto c = fast_config(server.port());
  c.keepalive_interval = 60ms;
  c.ping_timeout = 300ms;  // unanswered pings would end it after 360 ms; margin for slow CI
  std::size_t answered = 0;
  server.on_data = [&answered](Peer& p) {
    // Answer every ping seen so far that is still unanswered (ids are unique per ping).
    std::size_t pos = 0;
    std::size_t count = 0;
    while ((pos = p.in.find("rpsync-ka-", pos)) != std::string::npos) {
      auto end = p.in.find('\'', pos);
      if (++count > answered) {
        p.send("<iq type='result' from='example.test' id='" + p.in.substr(pos, end - pos) + "'/>");
        answered = count;
      }
      pos = end;
    }
  };
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return conn->ready(); }, 3s));
  run_for(io, 600ms);
  EXPECT_TRUE(handler.disconnected.empty()) << logger.all();
  EXPECT_EQ(conn->state(), State::kConnected);
  EXPECT_TRUE(handler.stanzas.empty());  // ping answers are consumed
}

TEST_F(FakeServerTest, WhitespaceKeepaliveWhenOnlyTheServerTalks) {
  auto c = fast_config(server.port());
  c.keepalive_interval = 100ms;
  c.ping_timeout = 1000ms;
  auto conn = connect(c);
  ASSERT_TRUE(run_until(
      io, [&] { return conn->ready(); }, 3s));
  std::size_t before = server.peers[0]->in.size();
  // The server keeps the read side busy, so no ping is due; our write side idles.
  for (int i = 0; i < 12; ++i) {
    server.peers[0]->send("<presence from='a@example.test/r'/>");
    run_for(io, 30ms);
  }
  std::string after = server.peers[0]->in.substr(before);
  EXPECT_NE(after.find(' '), std::string::npos);
  EXPECT_EQ(after.find("urn:xmpp:ping"), std::string::npos) << after;
  EXPECT_TRUE(handler.disconnected.empty());
}

TEST_F(FakeServerTest, StopClosesTheStreamAndWaitsForTheServer) {
  server.on_data = [](Peer& p) {
    if (p.in.ends_with("</stream:stream>")) p.send("</stream:stream>");
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return conn->ready(); }, 3s));
  bool done = false;
  conn->stop([&] { done = true; });
  EXPECT_EQ(conn->state(), State::kStopping);
  EXPECT_EQ(conn->send(xml::Element("message", std::string(ns::kComponent))),
            SendResult::kNotConnected);
  ASSERT_TRUE(run_until(
      io, [&] { return done; }, 2s));
  EXPECT_EQ(conn->state(), State::kStopped);
  ASSERT_EQ(handler.disconnected.size(), 1u);
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kStopped);
  EXPECT_FALSE(logger.contains("stream.close_timeout")) << logger.all();
  run_for(io, 100ms);
  EXPECT_EQ(server.peers.size(), 1u);  // no reconnect after stop
}

TEST_F(FakeServerTest, ServerClosingTcpAfterHandshakeIsReportedAndReconnects) {
  int n = 0;
  server.after_handshake = [&](Peer& p) {
    p.send("<handshake/>" + std::string(kPrivileges));
    if (++n == 1) {
      auto t = std::make_shared<asio::steady_timer>(io, 50ms);
      auto peer = p.shared_from_this();
      t->async_wait([t, peer](std::error_code) { peer->close(); });
    }
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return handler.connected.size() >= 2; }, 3s))
      << logger.all();
  ASSERT_EQ(handler.disconnected.size(), 1u);
  EXPECT_EQ(handler.disconnected[0].kind, Kind::kClosedByServer);
  EXPECT_TRUE(handler.disconnected[0].was_authenticated);
}

TEST_F(FakeServerTest, IqTrackerMatchesSenderAndReportsErrorsAndTimeouts) {
  bool answered1 = false;
  bool answered2 = false;
  server.on_data = [&](Peer& p) {
    if (!answered1 && p.in.find("id='rpsync-iq-1'") != std::string::npos) {
      answered1 = true;
      // A forged answer from someone else first, then the real one.
      p.send(
          "<iq type='result' id='rpsync-iq-1' from='mallory@example.test/x'/>"
          "<iq type='result' id='rpsync-iq-1' from='alice@example.test'>"
          "<query xmlns='jabber:iq:roster'/></iq>");
    }
    if (!answered2 && p.in.find("id='rpsync-iq-2'") != std::string::npos) {
      answered2 = true;
      p.send(
          "<iq type='error' id='rpsync-iq-2' from='bob@example.test'><error type='cancel'>"
          "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
    }
  };
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return conn->ready(); }, 3s));
  auto roster_get = [](std::string to) {
    xml::Element iq("iq", std::string(ns::kComponent));
    iq.set_attr("type", "get");
    iq.set_attr("to", std::move(to));
    iq.add(xml::Element("query", std::string(ns::kRoster)));
    return iq;
  };
  std::vector<proto::Result<xml::Element>> results;
  conn->send_iq(roster_get("alice@example.test"), 2s,
                [&](proto::Result<xml::Element> r) { results.push_back(std::move(r)); });
  ASSERT_TRUE(run_until(
      io, [&] { return results.size() == 1; }, 2s));
  conn->send_iq(roster_get("bob@example.test"), 2s,
                [&](proto::Result<xml::Element> r) { results.push_back(std::move(r)); });
  ASSERT_TRUE(run_until(
      io, [&] { return results.size() == 2; }, 2s));
  conn->send_iq(roster_get("carol@example.test"), 100ms,
                [&](proto::Result<xml::Element> r) { results.push_back(std::move(r)); });
  ASSERT_TRUE(run_until(
      io, [&] { return results.size() == 3; }, 2s));

  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0]->attr("from"), "alice@example.test");
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().condition, proto::Condition::kItemNotFound);
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error().condition, proto::Condition::kRemoteServerTimeout);
  // The forged answer was not swallowed by the tracker: it reached the handler.
  ASSERT_EQ(handler.stanzas.size(), 1u);
  EXPECT_EQ(handler.stanzas[0].attr("from"), "mallory@example.test/x");
}

TEST_F(FakeServerTest, PendingIqsFailWhenTheConnectionDrops) {
  auto conn = connect(fast_config(server.port()));
  ASSERT_TRUE(run_until(
      io, [&] { return conn->ready(); }, 3s));
  std::vector<proto::Result<xml::Element>> results;
  xml::Element iq("iq", std::string(ns::kComponent));
  iq.set_attr("type", "get");
  iq.set_attr("to", "alice@example.test");
  conn->send_iq(iq, 5s, [&](proto::Result<xml::Element> r) { results.push_back(std::move(r)); });
  run_for(io, 20ms);
  server.peers[0]->close();
  ASSERT_TRUE(run_until(
      io, [&] { return !results.empty(); }, 2s));
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error().condition, proto::Condition::kServiceUnavailable);
  EXPECT_EQ(results[0].error().app, proto::AppCondition::kNotReady);
  // Not connected: send_iq fails at once (posted, not re-entrant).
  conn->stop();
  conn->send_iq(iq, 5s, [&](proto::Result<xml::Element> r) { results.push_back(std::move(r)); });
  EXPECT_EQ(results.size(), 1u);
  ASSERT_TRUE(run_until(
      io, [&] { return results.size() == 2; }, 1s));
  EXPECT_EQ(results[1].error().condition, proto::Condition::kServiceUnavailable);
}

}  // namespace
}  // namespace rpsync::xmpp
