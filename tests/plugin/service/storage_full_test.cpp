// SPDX-License-Identifier: MIT
// A request that fails on storage moves nothing, and its retry succeeds once storage works
// again: the real SQLite store on a small tmpfs that a filler file makes full (needs root
// for the mount; skipped otherwise).
//
//   alice enables (e1) and checkpoints (c1); the disk fills up
//   checkpoint c2 (prev c1) -> not-ready; space freed -> the same checkpoint succeeds
//   sync with key c1 -> not-ready; space freed -> the same sync answers a delta
//   the store reopened holds exactly what was acknowledged
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service::test {
namespace {

class StorageFull : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rpsync-full-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=2m,mode=0700") != 0) {
      std::filesystem::remove(dir_);
      dir_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
    }
    open_all();
    service->on_stanza(
        stanza("<presence from='bob@example.test/laptop' to='rpsync.example.test'/>"));
    request("e1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    ASSERT_EQ(reply_type(), "result");
    request("c1", "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='e1'/>");
    ASSERT_EQ(reply_type(), "result");
  }
  void TearDown() override {
    if (dir_.empty()) return;
    service.reset();
    engine.reset();
    store.reset();
    ::umount2(dir_.c_str(), MNT_DETACH);
    std::filesystem::remove(dir_);
  }

  void open_all() {
    core::EngineOptions options;
    options.clock = [this] { return now_ms; };
    engine = std::make_unique<core::Engine>(options);
    auto opened = store::open_store("sqlite:" + dir_ + "/rpsync.db");
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store = std::move(opened).value();
    ServiceConfig config;
    config.component_jid = "rpsync.example.test";
    config.domains = {"example.test"};
    config.requests_per_minute = 1000;
    service = std::make_unique<Service>(config, *engine, *store, transport, logger,
                                        [this] { return now_ms; });
    service->on_connected(true);
  }
  // alice/phone sends a request; the roster fetch it causes is answered (bob, 'both').
  void request(const std::string& id, const std::string& payload) {
    service->on_stanza(stanza("<iq type='set' id='" + id +
                              "' from='alice@example.test/phone' to='rpsync.example.test'>" +
                              payload + "</iq>"));
    if (!transport.requests.empty()) transport.answer_roster({{"bob@example.test", "both"}});
  }
  std::string reply_type() { return std::string(transport.take().attr("type").value_or("")); }
  proto::StanzaError reply_error() {
    auto r = transport.take();
    EXPECT_EQ(r.attr("type"), "error") << xml::to_string(r);
    const xml::Element* e = r.child("error");
    return e ? proto::parse_stanza_error(*e).value_or(proto::StanzaError{}) : proto::StanzaError{};
  }
  // Writes a filler file until the file system refuses (bounded by the tmpfs size).
  void fill_disk() {
    const std::vector<char> block(64 * 1024, 'x');
    int fd = ::open((dir_ + "/filler").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    bool full = false;
    for (int i = 0; i < 64 && !full; ++i) full = ::write(fd, block.data(), block.size()) < 0;
    for (int i = 0; i < 64 && ::write(fd, block.data(), 512) > 0; ++i) {
    }
    ::close(fd);
    ASSERT_TRUE(full) << "the tmpfs did not fill up";
  }
  void free_disk() {
    ASSERT_EQ(::unlink((dir_ + "/filler").c_str()), 0);
    now_ms += 1001;
    service->tick();  // the service finds out that the store is back
    ASSERT_TRUE(service->ready());
  }

  std::string dir_;
  std::int64_t now_ms = 1'000'000;
  log::NullLogger logger;
  FakeTransport transport;
  std::unique_ptr<core::Engine> engine;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Service> service;
};

TEST_F(StorageFull, FailedCheckpointMovesNothingAndItsRetrySucceeds) {
  fill_disk();
  request("c2", "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='c1'/>");
  EXPECT_EQ(reply_error().app, AppCondition::kNotReady);
  free_disk();
  request("c2", "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='c1'/>");
  ASSERT_EQ(reply_type(), "result") << "the key moved although the answer was not-ready";
  // What was acknowledged is what a restart finds.
  service.reset();
  engine.reset();
  store.reset();
  auto reopened = store::open_store("sqlite:" + dir_ + "/rpsync.db");
  ASSERT_TRUE(reopened.ok());
  auto image = reopened.value()->load();
  ASSERT_TRUE(image.ok());
  ASSERT_EQ(image->sessions.size(), 1u);
  EXPECT_EQ(image->sessions[0].newest.id, "c2");
  ASSERT_TRUE(image->sessions[0].previous);
  EXPECT_EQ(image->sessions[0].previous->id, "c1");
}

TEST_F(StorageFull, FailedSyncKeepsTheKeyAndItsRetryAnswersTheDelta) {
  service->on_stanza(
      stanza("<presence from='bob@example.test/laptop' to='rpsync.example.test'>"
             "<show>away</show></presence>"));
  ASSERT_TRUE(service->flush());
  fill_disk();
  const std::string sync =
      "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
      "last='c1'/></sync>";
  request("s1", sync);
  EXPECT_EQ(reply_error().app, AppCondition::kNotReady);
  free_disk();
  request("s1", sync);
  auto answer = transport.take();
  ASSERT_EQ(answer.attr("type"), "result") << xml::to_string(answer);
  const xml::Element* delta = answer.child("delta", ns::kRpsync);
  ASSERT_NE(delta, nullptr) << xml::to_string(answer);
  EXPECT_FALSE(delta->children().empty()) << "bob's change is in the delta";
}

TEST_F(StorageFull, DatabaseFilesAreNotReadableByOthers) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const auto path = std::filesystem::path(dir_) / (std::string("rpsync.db") + suffix);
    if (!std::filesystem::exists(path)) continue;
    const auto perms = std::filesystem::status(path).permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none)
        << path;
  }
}

}  // namespace
}  // namespace rpsync::service::test
