// SPDX-License-Identifier: MIT
#include "plugin/xmpp/iq_tracker.h"

#include <asio/post.hpp>

#include "protocol/ns.h"

namespace rpsync::xmpp {

using proto::Condition;
using proto::ErrorType;
using proto::StanzaError;

IqTracker::IqTracker(asio::io_context& io, SendFn send, std::string id_prefix)
    : io_(io), send_(std::move(send)), prefix_(std::move(id_prefix)) {}

IqTracker::~IqTracker() = default;

std::string IqTracker::request(xml::Element iq, std::chrono::milliseconds timeout, Callback cb) {
  std::string id = prefix_ + std::to_string(++counter_);
  iq.set_attr("id", id);
  std::string to(iq.attr("to").value_or(""));
  SendResult sent = send_(iq);
  if (sent != SendResult::kQueued) {
    StanzaError err = proto::make_error(
        proto::AppCondition::kNotReady,
        sent == SendResult::kQueueFull   ? "write queue full"
        : sent == SendResult::kTooLarge ? "request larger than the server accepts"
                                        : "not connected");
    asio::post(io_, [cb = std::move(cb), err = std::move(err)] { cb(err); });
    return id;
  }
  auto timer = std::make_unique<asio::steady_timer>(io_, timeout);
  std::weak_ptr<char> alive = alive_;
  timer->async_wait([this, alive, id, timeout](const std::error_code& ec) {
    if (ec || alive.expired()) return;
    finish(id, StanzaError{ErrorType::kWait, Condition::kRemoteServerTimeout,
                           proto::AppCondition::kNone,
                           "no answer within " + std::to_string(timeout.count()) + " ms"});
  });
  pending_.emplace(id, Pending{std::move(to), std::move(cb), std::move(timer)});
  return id;
}

bool IqTracker::handle(const xml::Element& stanza) {
  if (stanza.name() != "iq") return false;
  auto type = stanza.attr("type");
  if (type != "result" && type != "error") return false;
  auto id = stanza.attr("id");
  if (!id) return false;
  auto it = pending_.find(std::string(*id));
  if (it == pending_.end()) return false;
  if (!it->second.to.empty() && stanza.attr("from").value_or("") != it->second.to) return false;
  if (type == "result") {
    finish(it->first, stanza);
    return true;
  }
  std::optional<StanzaError> err;
  for (const auto& c : stanza.children())
    if (c.name() == "error") err = proto::parse_stanza_error(c);
  finish(it->first, err ? *err
                        : StanzaError{ErrorType::kCancel, Condition::kUndefinedCondition,
                                      proto::AppCondition::kNone, "error without condition"});
  return true;
}

void IqTracker::finish(const std::string& id, proto::Result<xml::Element> result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Callback cb = std::move(it->second.cb);
  pending_.erase(it);  // also cancels the timer
  cb(std::move(result));
}

void IqTracker::fail_all(const StanzaError& error) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.cb(error);
}

}  // namespace rpsync::xmpp
