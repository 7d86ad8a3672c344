// SPDX-License-Identifier: MIT
#include "tests/harness/redis/redis_server.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <system_error>
#include <thread>

#include "tests/harness/util.h"

namespace rpsync::test {
namespace {

bool is_executable(const std::string& p) {
  return !p.empty() && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::optional<std::string> RedisServer::find_executable() {
  if (const char* env = std::getenv("RPSYNC_REDIS_SERVER"); env && is_executable(env))
    return std::string(env);
  if (const char* path = std::getenv("PATH")) {
    std::string all(path);
    std::size_t start = 0;
    while (start <= all.size()) {
      std::size_t end = all.find(':', start);
      if (end == std::string::npos) end = all.size();
      std::string cand = all.substr(start, end - start) + "/redis-server";
      if (end > start && is_executable(cand)) return cand;
      start = end + 1;
    }
  }
  if (is_executable("/usr/bin/redis-server")) return std::string("/usr/bin/redis-server");
  return std::nullopt;
}

RedisServer::RedisServer(std::string exe, RedisOptions options)
    : exe_(std::move(exe)), options_(std::move(options)) {
  static int n = 0;
  dir_ = std::filesystem::temp_directory_path() /
         ("rpsync-redis-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
}

RedisServer::~RedisServer() {
  kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<RedisServer> RedisServer::start(RedisOptions options, std::string* why) {
  auto exe = find_executable();
  if (!exe) {
    if (why) *why = "redis-server is not installed (apt-get install redis-server)";
    return nullptr;
  }
  std::unique_ptr<RedisServer> s(new RedisServer(*exe, std::move(options)));
  s->port_ = free_port();
  std::ofstream conf(s->dir_ / "redis.conf");
  conf << "bind 127.0.0.1\n"
       << "port " << s->port_ << "\n"
       << "dir " << s->dir_.string() << "\n"
       << "daemonize no\n"
       << "save \"\"\n"
       << "appendonly " << (s->options_.appendonly ? "yes" : "no") << "\n"
       << "appendfsync " << s->options_.appendfsync << "\n"
       << "aof-use-rdb-preamble no\n"
       << "logfile " << (s->dir_ / "redis.log").string() << "\n"
       << "databases 16\n";
  if (!s->options_.password.empty()) conf << "requirepass " << s->options_.password << "\n";
  if (s->options_.cluster_enabled)
    conf << "cluster-enabled yes\ncluster-config-file " << (s->dir_ / "nodes.conf").string()
         << "\ncluster-port " << free_port() << "\n";  // not port+10000: may exceed 65535
  conf.close();
  if (!s->launch(why)) return nullptr;
  return s;
}

bool RedisServer::launch(std::string* why) {
  Status spawned =
      child_.spawn({.argv = {exe_, (dir_ / "redis.conf").string()}, .close_other_fds = false});
  if (!spawned.ok()) {
    if (why) *why = spawned.message();
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_.alive()) {
      if (why) *why = "redis-server exited at start-up; log:\n" + log();
      return false;
    }
    if (auto r = command({"PING"}); r && !r->error && r->str == "PONG") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (why) *why = "redis-server did not answer PING within 10 s; log:\n" + log();
  kill();
  return false;
}

void RedisServer::stop() {
  if (!child_.running()) return;
  child_.signal(SIGTERM);
  child_.signal(SIGCONT);  // in case it was frozen
  if (!child_.wait_for(std::chrono::seconds(10))) kill();
}

void RedisServer::kill() {
  child_.kill();
}

void RedisServer::freeze() {
  child_.signal(SIGSTOP);
}

void RedisServer::thaw() {
  child_.signal(SIGCONT);
}

bool RedisServer::restart() {
  if (child_.running()) stop();
  std::string why;
  return launch(&why);
}

std::string RedisServer::uri(int db, const std::string& prefix) const {
  std::string u =
      "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db) + "?prefix=" + prefix;
  if (!options_.password.empty()) u += "&password=" + options_.password;
  return u;
}

std::optional<RedisReply> RedisServer::command(const std::vector<std::string>& args) const {
  const timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return std::nullopt;
  }
  redisSetTimeout(c, tv);
  auto run = [&](const std::vector<std::string>& a) -> redisReply* {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& x : a) {
      argv.push_back(x.data());
      lens.push_back(x.size());
    }
    return static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  };
  if (!options_.password.empty()) {
    if (redisReply* a = run({"AUTH", options_.password})) freeReplyObject(a);
  }
  redisReply* r = run(args);
  if (!r) {
    redisFree(c);
    return std::nullopt;
  }
  RedisReply out;
  auto text = [](const redisReply* e) {
    if (e->type == REDIS_REPLY_INTEGER) return std::to_string(e->integer);
    return e->str ? std::string(e->str, e->len) : std::string();
  };
  out.error = r->type == REDIS_REPLY_ERROR;
  out.nil = r->type == REDIS_REPLY_NIL;
  out.integer = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
  if (r->type != REDIS_REPLY_ARRAY) out.str = text(r);
  for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i)
    out.elements.push_back(text(r->element[i]));
  freeReplyObject(r);
  redisFree(c);
  return out;
}

std::string RedisServer::log() const {
  return util::read_file(dir_ / "redis.log");
}

}  // namespace rpsync::test
