// SPDX-License-Identifier: MIT
#include "client_strophe/discovery.h"

#include <utility>

#include "protocol/ns.h"

namespace rpsync::strophe {
namespace {

constexpr std::size_t kMaxDiscoItems = 64;

}  // namespace

bool has_feature(const xml::Element& iq, std::string_view feature) {
  if (!is_result(iq)) return false;
  const xml::Element* q = iq.child("query", ns::kDiscoInfo);
  if (q == nullptr) return false;
  for (const auto& f : q->children()) {
    if (f.name() == "feature" && f.attr("var") == std::optional<std::string_view>(feature)) {
      return true;
    }
  }
  return false;
}

Discovery::Discovery(IqRouter& router, std::string configured,
                     std::function<void(const std::string&)> on_done)
    : router_(router), on_done_(std::move(on_done)), component_(std::move(configured)) {
  if (!component_.empty()) state_ = State::kDone;
}

void Discovery::adopt(const std::string& stored) {
  if (component_.empty()) component_ = stored;
}

void Discovery::expire_empty(TimePoint now, std::chrono::milliseconds rediscover_after) {
  if (state_ == State::kDone && component_.empty() && now - discovered_at_ >= rediscover_after) {
    state_ = State::kIdle;
  }
}

void Discovery::start_if_idle(const std::string& server, std::function<TimePoint()> now) {
  if (state_ != State::kIdle) return;
  now_ = std::move(now);
  state_ = State::kRunning;
  outstanding_ = 1;
  router_.send("get", server, xml::Element("query", std::string(ns::kDiscoItems)),
               [this](const xml::Element& iq, std::size_t) { on_items(iq); });
}

void Discovery::forget() {
  component_.clear();
  state_ = State::kIdle;
}

void Discovery::on_disconnect() {
  if (state_ == State::kRunning) state_ = State::kIdle;
}

void Discovery::on_items(const xml::Element& iq) {
  if (state_ != State::kRunning) return;
  const xml::Element* q = is_result(iq) ? iq.child("query", ns::kDiscoItems) : nullptr;
  std::size_t n = 0;
  for (const auto& item : q != nullptr ? q->children() : std::vector<xml::Element>{}) {
    const auto jid = item.attr("jid");
    if (item.name() != "item" || !jid || jid->empty()) continue;
    if (n++ == kMaxDiscoItems) break;
    ++outstanding_;
    std::string to(*jid);
    router_.send("get", to, xml::Element("query", std::string(ns::kDiscoInfo)),
                 [this, to](const xml::Element& answer, std::size_t) { on_info(to, answer); });
  }
  finish_item();
}

void Discovery::on_info(const std::string& jid, const xml::Element& iq) {
  if (state_ != State::kRunning) return;
  if (component_.empty() && has_feature(iq, ns::kRpsync)) component_ = jid;
  finish_item();
}

void Discovery::finish_item() {
  if (--outstanding_ > 0) return;
  state_ = State::kDone;
  discovered_at_ = now_ ? now_() : TimePoint{};
  on_done_(component_);
}

}  // namespace rpsync::strophe
