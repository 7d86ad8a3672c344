// SPDX-License-Identifier: MIT
// The C API of librpsync-strophe without a server: NULL arguments, calls in the wrong
// state, a corrupt state file, the C11 header.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rpsync/strophe.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

extern "C" int rpsync_strophe_c_header_check(void);

namespace {

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = xmpp_ctx_new(nullptr, nullptr);
    conn_ = xmpp_conn_new(ctx_);
    xmpp_conn_set_jid(conn_, "alice@example.test/phone");
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("rpsync-strophe-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    xmpp_conn_release(conn_);
    xmpp_ctx_free(ctx_);
    std::filesystem::remove_all(dir_);
  }
  xmpp_ctx_t* ctx_ = nullptr;
  xmpp_conn_t* conn_ = nullptr;
  std::filesystem::path dir_;
};

TEST_F(CApi, TheHeaderCompilesAsC11) {
  EXPECT_EQ(rpsync_strophe_c_header_check(), 0);
}

TEST_F(CApi, NullArgumentsAreRefusedNotCrashed) {
  EXPECT_EQ(rpsync_strophe_new(nullptr, nullptr, nullptr, nullptr), nullptr);
  xmpp_conn_t* no_jid = xmpp_conn_new(ctx_);
  EXPECT_EQ(rpsync_strophe_new(no_jid, nullptr, nullptr, nullptr), nullptr);
  xmpp_conn_release(no_jid);
  rpsync_strophe_free(nullptr);
  rpsync_strophe_options_init(nullptr);
  EXPECT_EQ(rpsync_strophe_open_state(nullptr, "x.db"), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_connect_client(nullptr, nullptr, 0, nullptr, nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_send_initial_presence(nullptr, nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_roster_request(nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_logout(nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_disable(nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_get_phase(nullptr), RPSYNC_STROPHE_OFFLINE);
  EXPECT_STREQ(rpsync_strophe_get_component(nullptr), "");
  EXPECT_STREQ(rpsync_strophe_get_session_id(nullptr), "");
  EXPECT_STREQ(rpsync_strophe_roster_version(nullptr), "");
  rpsync_strophe_stats_t st;
  EXPECT_EQ(rpsync_strophe_get_stats(nullptr, &st), XMPP_EINVOP);
  char hex[65];
  uint32_t count = 0;
  EXPECT_EQ(rpsync_strophe_presence_digest(nullptr, hex, &count), XMPP_EINVOP);

  rpsync_strophe_t* h = rpsync_strophe_new(conn_, nullptr, nullptr, nullptr);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(rpsync_strophe_open_state(h, nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_send_initial_presence(h, nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_get_stats(h, nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_presence_digest(h, nullptr, &count), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_presence_foreach(h, nullptr, nullptr), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_roster_foreach(h, nullptr, nullptr), XMPP_EINVOP);
  rpsync_strophe_free(h);
}

TEST_F(CApi, CallsBeforeTheStreamIsUpAreRefused) {
  rpsync_strophe_options_t o;
  rpsync_strophe_options_init(&o);
  o.component = "rpsync.example.test";
  rpsync_strophe_t* h = rpsync_strophe_new(conn_, &o, nullptr, nullptr);
  ASSERT_NE(h, nullptr);
  xmpp_stanza_t* p = xmpp_presence_new(ctx_);
  EXPECT_EQ(rpsync_strophe_send_initial_presence(h, p), XMPP_EINVOP);
  xmpp_stanza_release(p);
  EXPECT_EQ(rpsync_strophe_roster_request(h), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_logout(h), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_disable(h), XMPP_EINVOP);
  EXPECT_EQ(rpsync_strophe_get_phase(h), RPSYNC_STROPHE_OFFLINE);
  EXPECT_STREQ(rpsync_strophe_get_component(h), "rpsync.example.test");
  rpsync_strophe_stats_t st;
  ASSERT_EQ(rpsync_strophe_get_stats(h, &st), XMPP_EOK);
  EXPECT_EQ(st.syncs_sent, 0u);
  char hex[65];
  uint32_t count = 7;
  ASSERT_EQ(rpsync_strophe_presence_digest(h, hex, &count), XMPP_EOK);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(std::string(hex), std::string(64, '0'));
  rpsync_strophe_free(h);
}

TEST_F(CApi, ACorruptStateFileIsSetAsideForACleanFullLogin) {
  const auto path = dir_ / "state.db";
  std::ofstream(path) << "this is not an SQLite database, just text that was here before";
  rpsync_strophe_t* h = rpsync_strophe_new(conn_, nullptr, nullptr, nullptr);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(rpsync_strophe_open_state(h, path.c_str()), XMPP_EOK);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "state.db.corrupt"));
  EXPECT_EQ(rpsync_strophe_open_state(h, path.c_str()), XMPP_EINVOP) << "once per handle";
  rpsync_strophe_free(h);
}

TEST_F(CApi, AStateFileThatCannotBeOpenedIsAnError) {
  rpsync_strophe_t* h = rpsync_strophe_new(conn_, nullptr, nullptr, nullptr);
  ASSERT_NE(h, nullptr);
  const auto path = dir_ / "missing-dir" / "state.db";
  EXPECT_EQ(rpsync_strophe_open_state(h, path.c_str()), XMPP_EINT);
  rpsync_strophe_free(h);
}

// A loopback port nothing listens on (bound, then closed again).
unsigned short closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

void count_events(xmpp_conn_t*, xmpp_conn_event_t event, int, xmpp_stream_error_t*, void* ud) {
  if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL) ++*static_cast<int*>(ud);
}

// libstrophe cannot take back a connection handler: a handle freed while its connection
// is up must not be reached when the connection goes down (the sanitizer build checks).
TEST_F(CApi, FreeingTheHandleOfALiveConnectionIsSafe) {
  const unsigned short port = closed_port();
  ASSERT_NE(port, 0);
  int downs = 0;
  rpsync_strophe_t* h = rpsync_strophe_new(conn_, nullptr, nullptr, nullptr);
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(rpsync_strophe_connect_client(h, "127.0.0.1", port, count_events, &downs), XMPP_EOK);
  rpsync_strophe_free(h);  // the connection attempt is still under way
  for (int i = 0; i < 300 && downs == 0; ++i) xmpp_run_once(ctx_, 10);
  EXPECT_EQ(downs, 1) << "the application's handler still hears the connection go down";
}

TEST_F(CApi, ReleasingALiveConnectionAfterFreeingTheHandleIsSafe) {
  int downs = 0;
  rpsync_strophe_t* h = rpsync_strophe_new(conn_, nullptr, nullptr, nullptr);
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(rpsync_strophe_connect_client(h, "127.0.0.1", closed_port(), count_events, &downs),
            XMPP_EOK);
  rpsync_strophe_free(h);
  xmpp_conn_release(conn_);  // fires the connection handler of a live connection
  conn_ = xmpp_conn_new(ctx_);
  SUCCEED() << "events seen: " << downs;
}

TEST_F(CApi, ReasonsHaveTheirSpecNames) {
  EXPECT_STREQ(rpsync_strophe_reason_string(RPSYNC_STROPHE_NO_STORED_STATE), "no-stored-state");
  EXPECT_STREQ(rpsync_strophe_reason_string(RPSYNC_STROPHE_KEY_REJECTED), "key-rejected");
  EXPECT_STREQ(rpsync_strophe_reason_string(RPSYNC_STROPHE_COMPONENT_UNAVAILABLE),
               "component-unavailable");
  EXPECT_STREQ(rpsync_strophe_reason_string(static_cast<rpsync_strophe_reason_t>(9)), "?");
}

TEST_F(CApi, TheSocketOptionCallbackTurnsNagleOff) {
  rpsync_strophe_options_t o;
  rpsync_strophe_options_init(&o);
  EXPECT_EQ(o.tcp_nodelay, 1) << "connect_client installs the callback by default";
  EXPECT_EQ(rpsync_strophe_sockopt_cb(nullptr, nullptr), -1);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int v = -1;
  socklen_t len = sizeof v;
  ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_EQ(v, 0) << "control: a new socket has Nagle on";
  EXPECT_EQ(rpsync_strophe_sockopt_cb(conn_, nullptr), -1);
  EXPECT_EQ(rpsync_strophe_sockopt_cb(conn_, &fd), 0);
  ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_NE(v, 0);
  ::close(fd);
}

}  // namespace
