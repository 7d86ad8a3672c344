// SPDX-License-Identifier: MIT
// rpsync::client::Client's own SCRAM-SHA-1 with cached keys (client.h, scram.h):
//   - against a real Prosody 0.12 with internal_hashed (stored salt, so a second login
//     finds the key): the first login derives, the second hits the cache, both log in;
//     a wrong cached key is rejected by the server, erased, and the login still succeeds
//     with a derived key; set_scram_cache(nullptr) leaves SASL to gloox;
//   - against a scripted loopback server that answers a correct proof with a wrong
//     server signature: the client ends the connection with ConnAuthenticationFailed.
#include <arpa/inet.h>
#include <gloox/base64.h>
#include <gloox/connectionlistener.h>
#include <gloox/loghandler.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_ext/client.h"
#include "client_ext/scram.h"
#include "client_ext/sqlite_scram_cache.h"
#include "client_ext/store.h"
#include "tests/harness/prosody/prosody_server.h"

namespace rpsync::client {
namespace {

using std::chrono::milliseconds;

class LoginClient final : public gloox::ConnectionListener, public gloox::LogHandler {
 public:
  LoginClient(const std::string& full_jid, uint16_t port, const std::string& password = "pw")
      : client_(gloox::JID(full_jid), password, port) {
    client_.setServer("127.0.0.1");
    client_.setTls(gloox::TLSDisabled);
    client_.setCompression(false);
    client_.registerConnectionListener(this);
    client_.logInstance().registerLogHandler(gloox::LogLevelDebug, gloox::LogAreaXmlOutgoing, this);
  }
  // Connects and pumps until onConnect or onDisconnect (at most 10 s).
  bool login() {
    connected = false;
    disconnected = false;
    outgoing.clear();
    if (!client_.connect(false)) return false;
    const auto end = std::chrono::steady_clock::now() + milliseconds(10000);
    while (!connected && !disconnected && std::chrono::steady_clock::now() < end)
      client_.recv(10'000);
    return connected;
  }
  void logout() {
    client_.disconnect();
    const auto end = std::chrono::steady_clock::now() + milliseconds(2000);
    while (connected && std::chrono::steady_clock::now() < end) client_.recv(10'000);
  }
  bool sent_mechanism(const std::string& mech) const {
    for (const auto& s : outgoing)
      if (s.starts_with("<auth") && s.find("mechanism='" + mech + "'") != std::string::npos)
        return true;
    return false;
  }

  void onConnect() override { connected = true; }
  void onDisconnect(gloox::ConnectionError e) override {
    connected = false;
    disconnected = true;
    error = e;
  }
  bool onTLSConnect(const gloox::CertInfo&) override { return true; }
  void handleLog(gloox::LogLevel, gloox::LogArea, const std::string& m) override {
    outgoing.push_back(m);
  }

  Client& client() { return client_; }
  bool connected = false;
  bool disconnected = false;
  gloox::ConnectionError error = gloox::ConnNoError;
  std::vector<std::string> outgoing;

 private:
  Client client_;
};

// A harness Prosody switched to internal_hashed: the account's salt is fixed at its first
// SCRAM login (the plaintext password is upgraded), as on a default Prosody install.
std::unique_ptr<test::ProsodyServer> hashed_server(std::string* why) {
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, why);
  if (!server) return nullptr;
  server->add_user("alice", "example.test", "pw");
  const auto cfg = std::filesystem::path(server->dir()) / "prosody.cfg.lua";
  std::stringstream text;
  text << std::ifstream(cfg).rdbuf();
  std::string c = text.str();
  const std::string from = "authentication = \"internal_plain\"";
  const auto at = c.find(from);
  if (at == std::string::npos) {
    *why = "harness config has no internal_plain line";
    return nullptr;
  }
  c.replace(at, from.size(), "authentication = \"internal_hashed\"");
  std::ofstream(cfg, std::ios::trunc) << c;
  if (!server->launch()) {
    *why = "prosody did not start: " + server->log();
    return nullptr;
  }
  return server;
}

#define HASHED_SERVER_OR_SKIP(var)                                          \
  std::string var##_why;                                                    \
  auto var = hashed_server(&var##_why);                                     \
  if (!var) {                                                               \
    if (!test::ProsodyServer::find_executable()) GTEST_SKIP() << var##_why; \
    FAIL() << var##_why;                                                    \
  }

TEST(ScramCacheE2E, SecondLoginUsesTheCachedKey) {
  HASHED_SERVER_OR_SKIP(server);
  MemoryScramCache cache;
  LoginClient alice("alice@example.test/a", server->c2s_port());
  alice.client().set_scram_cache(&cache);

  ASSERT_TRUE(alice.login()) << server->log();
  EXPECT_TRUE(alice.sent_mechanism("SCRAM-SHA-1"));
  EXPECT_EQ(alice.client().scram_stats().logins, 1u);
  EXPECT_EQ(alice.client().scram_stats().derivations, 1u);
  EXPECT_EQ(alice.client().scram_stats().cache_hits, 0u);
  alice.logout();

  ASSERT_TRUE(alice.login()) << server->log();
  EXPECT_EQ(alice.client().scram_stats().logins, 2u);
  EXPECT_EQ(alice.client().scram_stats().derivations, 1u);
  EXPECT_EQ(alice.client().scram_stats().cache_hits, 1u);
  EXPECT_EQ(alice.client().scram_stats().bad_server_signature, 0u);
  alice.logout();

  // A second client sharing the cache (an application restart with a persistent cache).
  LoginClient again("alice@example.test/b", server->c2s_port());
  again.client().set_scram_cache(&cache);
  ASSERT_TRUE(again.login());
  EXPECT_EQ(again.client().scram_stats().cache_hits, 1u);
  EXPECT_EQ(again.client().scram_stats().derivations, 0u);
  again.logout();
}

// The application's SQLite state file as the cache: a restarted application (a new
// client and store object on the same file) skips the derivation.
TEST(ScramCacheE2E, SqliteStoreKeepsTheKeyAcrossRestarts) {
  HASHED_SERVER_OR_SKIP(server);
  const std::string path = server->dir() + "/client-state.db";
  {
    SqliteDatabase database(path);
    SqliteScramCache scram_cache(database);
    LoginClient alice("alice@example.test/a", server->c2s_port());
    alice.client().set_scram_cache(&scram_cache);
    ASSERT_TRUE(alice.login()) << server->log();
    EXPECT_EQ(alice.client().scram_stats().derivations, 1u);
    alice.logout();
  }
  SqliteDatabase database(path);
  SqliteScramCache scram_cache(database);
  LoginClient alice("alice@example.test/a", server->c2s_port());
  alice.client().set_scram_cache(&scram_cache);
  ASSERT_TRUE(alice.login()) << server->log();
  EXPECT_EQ(alice.client().scram_stats().derivations, 0u);
  EXPECT_EQ(alice.client().scram_stats().cache_hits, 1u);
  alice.logout();
}

TEST(ScramCacheE2E, WrongCachedKeyIsRejectedErasedAndRecomputed) {
  HASHED_SERVER_OR_SKIP(server);
  // Learn the account's salt and count from a first login.
  struct Spy final : ScramCache {
    std::optional<std::string> load_salted_password(const std::string& a, const std::string& s,
                                                    std::uint32_t i) override {
      return inner.load_salted_password(a, s, i);
    }
    void save_salted_password(const std::string& a, const std::string& s, std::uint32_t i,
                              const std::string& k) override {
      account = a;
      salt = s;
      iterations = i;
      inner.save_salted_password(a, s, i, k);
    }
    void erase_salted_password(const std::string& a) override {
      ++erased;
      inner.erase_salted_password(a);
    }
    MemoryScramCache inner;
    std::string account, salt;
    std::uint32_t iterations = 0;
    int erased = 0;
  } cache;
  LoginClient alice("alice@example.test/a", server->c2s_port());
  alice.client().set_scram_cache(&cache);
  ASSERT_TRUE(alice.login()) << server->log();
  alice.logout();
  ASSERT_FALSE(cache.salt.empty());
  const auto right = cache.inner.load_salted_password(cache.account, cache.salt, cache.iterations);
  ASSERT_TRUE(right.has_value());

  // Same salt and count, another password's key (the password changed, the salt did not).
  cache.inner.save_salted_password(cache.account, cache.salt, cache.iterations,
                                   scram::salted_password("not-pw", cache.salt, cache.iterations));
  ASSERT_TRUE(alice.login()) << server->log();
  EXPECT_EQ(alice.client().scram_stats().retries, 1u);
  EXPECT_EQ(cache.erased, 1);
  EXPECT_EQ(alice.client().scram_stats().cache_hits, 1u);
  // The fresh key replaced the wrong one.
  EXPECT_EQ(cache.inner.load_salted_password(cache.account, cache.salt, cache.iterations), right);
  alice.logout();
}

TEST(ScramCacheE2E, WrongPasswordStillFails) {
  HASHED_SERVER_OR_SKIP(server);
  MemoryScramCache cache;
  LoginClient bad("alice@example.test/a", server->c2s_port(), "wrong");
  bad.client().set_scram_cache(&cache);
  EXPECT_FALSE(bad.login());
  EXPECT_EQ(bad.error, gloox::ConnAuthenticationFailed);
  EXPECT_EQ(bad.client().scram_stats().retries, 0u);  // nothing cached to blame
  EXPECT_FALSE(cache.load_salted_password("alice@example.test", "x", 1).has_value());
}

TEST(ScramCacheE2E, NullCacheLeavesSaslToGloox) {
  HASHED_SERVER_OR_SKIP(server);
  LoginClient alice("alice@example.test/a", server->c2s_port());
  alice.client().set_scram_cache(nullptr);
  ASSERT_TRUE(alice.login()) << server->log();
  EXPECT_EQ(alice.client().scram_stats().logins, 0u);
  EXPECT_TRUE(alice.sent_mechanism("SCRAM-SHA-1"));  // gloox's own
  alice.logout();
  // PLAIN when the application restricts gloox to it: untouched by the client.
  LoginClient plain("alice@example.test/b", server->c2s_port());
  plain.client().setSASLMechanisms(gloox::SaslMechPlain);
  ASSERT_TRUE(plain.login()) << server->log();
  EXPECT_EQ(plain.client().scram_stats().logins, 0u);
  EXPECT_TRUE(plain.sent_mechanism("PLAIN"));
  plain.logout();
}

// ---- a scripted server with a wrong server signature --------------------------------

// Accepts one connection on 127.0.0.1 and plays a SCRAM-SHA-1 server for user "alice",
// password "pw", that checks the client's proof and then sends `v=` of another key.
class LyingScramServer {
 public:
  LyingScramServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~LyingScramServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
  }
  uint16_t port() const { return port_; }
  std::atomic<bool> proof_ok{false};

 private:
  // Reads until `marker` appeared in what this connection received (at most 5 s).
  bool read_until(int fd, std::string* in, const std::string& marker) {
    const auto end = std::chrono::steady_clock::now() + milliseconds(5000);
    while (in->find(marker) == std::string::npos) {
      if (stop_ || std::chrono::steady_clock::now() >= end) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in->append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  static std::string cdata_of(const std::string& in, const std::string& element) {
    const auto open = in.find("<" + element);
    const auto gt = in.find('>', open);
    const auto close = in.find("</" + element + ">", gt);
    if (open == std::string::npos || gt == std::string::npos || close == std::string::npos)
      return {};
    return in.substr(gt + 1, close - gt - 1);
  }
  static void put(int fd, const std::string& s) {
    (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  }

  void run() {
    pollfd p{listener_, POLLIN, 0};
    const auto end = std::chrono::steady_clock::now() + milliseconds(10000);
    while (!stop_ && ::poll(&p, 1, 50) <= 0)
      if (std::chrono::steady_clock::now() >= end) return;
    if (stop_) return;
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    std::string in;
    if (read_until(fd, &in, "<stream:stream")) {
      read_until(fd, &in, ">");
      put(fd,
          "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.test' "
          "version='1.0'><stream:features><mechanisms "
          "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>"
          "</mechanisms></stream:features>");
      if (read_until(fd, &in, "</auth>")) {
        const std::string client_first = gloox::Base64::decode64(cdata_of(in, "auth"));
        const std::string bare = client_first.substr(3);  // after "n,,"
        const std::string cnonce = bare.substr(bare.find(",r=") + 3);
        const std::string salt = "0123456789abcdef";
        const std::string server_first =
            "r=" + cnonce + "srv,s=" + gloox::Base64::encode64(salt) + ",i=4096";
        put(fd, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                    gloox::Base64::encode64(server_first) + "</challenge>");
        in.clear();
        if (read_until(fd, &in, "</response>")) {
          const std::string final_msg = gloox::Base64::decode64(cdata_of(in, "response"));
          const std::string right = scram::salted_password("pw", salt, 4096);
          const scram::Final expect =
              scram::client_final(right, "n,,", bare, server_first, cnonce + "srv");
          proof_ok = final_msg == expect.client_final_message;
          const scram::Final lie = scram::client_final(scram::salted_password("other", salt, 4096),
                                                       "n,,", bare, server_first, cnonce + "srv");
          put(fd,
              "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                  gloox::Base64::encode64("v=" + gloox::Base64::encode64(lie.server_signature)) +
                  "</success>");
          in.clear();
          read_until(fd, &in, "</stream:stream>");  // the client closes
        }
      }
    }
    ::close(fd);
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ScramCacheE2E, ServerSignatureMismatchFailsTheLogin) {
  LyingScramServer server;
  ASSERT_NE(server.port(), 0);
  MemoryScramCache cache;
  LoginClient alice("alice@example.test/a", server.port());
  alice.client().set_scram_cache(&cache);
  EXPECT_FALSE(alice.login());
  EXPECT_TRUE(server.proof_ok) << "the proof itself was right";
  EXPECT_TRUE(alice.disconnected);
  EXPECT_EQ(alice.error, gloox::ConnAuthenticationFailed);
  EXPECT_EQ(alice.client().scram_stats().bad_server_signature, 1u);
  // An unverified server does not get its key cached.
  EXPECT_FALSE(cache.load_salted_password("alice@example.test", "0123456789abcdef", 4096));
}

}  // namespace
}  // namespace rpsync::client
