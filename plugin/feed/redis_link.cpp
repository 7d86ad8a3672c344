// SPDX-License-Identifier: MIT
#include "plugin/feed/redis_link.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace rpsync::feed {
namespace {

Value copy(const redisReply* r) {
  Value v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = Value::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = Value::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = Value::Type::kError;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = Value::Type::kInteger;
      v.integer = r->integer;
      v.str = std::to_string(r->integer);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = Value::Type::kArray;
      v.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(copy(r->element[i]));
      break;
    default:
      v.type = Value::Type::kNil;
  }
  return v;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_tv(int ms) {
  return timeval{ms / 1000, (ms % 1000) * 1000};
}

void append(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data());
}

}  // namespace

Link::Link(store::RedisTarget target) : target_(std::move(target)) {}

Link::~Link() {
  drop();
}

void Link::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

Status Link::fail(const std::string& what) {
  std::string text =
      "feed: redis " + target_.host + ":" + std::to_string(target_.port) + " " + what;
  StatusCode code = StatusCode::kUnavailable;
  if (ctx_ && ctx_->err) {
    if (ctx_->err == REDIS_ERR_IO && std::string_view(ctx_->errstr) == std::strerror(EAGAIN)) {
      text += ": no reply in time";
      code = StatusCode::kTimeout;
    } else {
      text += ": " + std::string(ctx_->errstr);
    }
  }
  drop();
  return Status(code, std::move(text));
}

Status Link::ensure() {
  if (ctx_ && !ctx_->err) {
    // Idle connection: readable means EOF/RST (the server went away).
    pollfd p{ctx_->fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) return Status{};
  }
  drop();
  ctx_ = redisConnectWithTimeout(target_.host.c_str(), target_.port, to_tv(target_.timeout_ms));
  if (!ctx_) return Status::unavailable("feed: out of memory");
  if (ctx_->err) return fail("unreachable");
  redisSetTimeout(ctx_, to_tv(target_.timeout_ms));
  redisEnableKeepAlive(ctx_);
  std::vector<std::vector<std::string>> hello;
  if (!target_.password.empty()) {
    if (target_.username.empty())
      hello.push_back({"AUTH", target_.password});
    else
      hello.push_back({"AUTH", target_.username, target_.password});
  }
  hello.push_back({"SELECT", std::to_string(target_.db)});
  for (const auto& cmd : hello) {
    append(ctx_, cmd);
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) return fail("did not answer " + cmd[0]);
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR)
      return fail(cmd[0] + " failed: " + std::string(r->str, r->len));
  }
  return Status{};
}

StatusOr<Value> Link::run(const std::vector<std::string>& args, int wait_ms) {
  auto all = exec({args}, wait_ms);
  if (!all.ok()) return all.status();
  return std::move(all.value().front());
}

StatusOr<std::vector<Value>> Link::run_all(const std::vector<std::vector<std::string>>& cmds) {
  return exec(cmds, 0);
}

StatusOr<std::vector<Value>> Link::exec(const std::vector<std::vector<std::string>>& cmds,
                                        int wait_ms) {
  store::SigpipeGuard guard;
  if (auto e = ensure(); !e.ok()) return e;
  if (wait_ms > 0) redisSetTimeout(ctx_, to_tv(target_.timeout_ms + wait_ms));
  for (const auto& c : cmds) append(ctx_, c);
  std::vector<Value> out;
  out.reserve(cmds.size());
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) return fail("lost during " + cmds[i][0]);
    Reply r(static_cast<redisReply*>(raw));
    out.push_back(copy(r.get()));
  }
  if (wait_ms > 0) redisSetTimeout(ctx_, to_tv(target_.timeout_ms));
  return out;
}

}  // namespace rpsync::feed
