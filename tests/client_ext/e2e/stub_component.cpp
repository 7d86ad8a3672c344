// SPDX-License-Identifier: MIT
#include "stub_component.h"

#include <gloox/disco.h>
#include <gloox/tag.h>

#include <memory>
#include <variant>

#include "client_ext/tag_convert.h"
#include "protocol/ns.h"
#include "protocol/payload.h"
#include "protocol/presence.h"
#include "protocol/session.h"

namespace rpsync::client::testing {

StubComponent::StubComponent(const std::string& jid, const std::string& secret, int port)
    : gloox::Component(std::string(ns::kComponent), "127.0.0.1", jid, secret, port) {
  disco()->setIdentity("component", "presence", "rpsync");
  disco()->addFeature(std::string(ns::kRpsync));
}

proto::PresenceState StubComponent::view_of(const std::string& user_bare) const {
  proto::PresenceState v;
  for (const auto& [jid, f] : everyone_)
    if (proto::bare_of(jid) != user_bare) v.emplace(jid, f);
  return v;
}

void StubComponent::handleTag(gloox::Tag* tag) {
  if (tag == nullptr) return;
  if (tag->name() == "handshake") ready_ = true;
  if (tag->name() == "presence") {
    const xml::Element p = to_element(*tag);
    const std::string from(p.attr("from").value_or(""));
    const std::string type(p.attr("type").value_or(""));
    if (from.find('/') != std::string::npos) {
      if (type.empty()) everyone_.insert_or_assign(from, proto::fields_from_presence(p));
      if (type == "unavailable") everyone_.erase(from);
    }
    return;
  }
  if (tag->name() == "iq" && tag->findAttribute("type") == "set") {
    const xml::Element iq = to_element(*tag);
    for (const auto& c : iq.children()) {
      if (c.ns() == ns::kRpsync) {
        answer(iq);
        return;
      }
    }
  }
  gloox::Component::handleTag(tag);
}

void StubComponent::answer(const xml::Element& iq) {
  auto request = proto::parse_request(iq);
  if (!request.ok()) {
    reply_error(iq, request.error());
    return;
  }
  const std::string from(iq.attr("from").value_or(""));
  const std::string user(proto::bare_of(from));
  const std::string id(iq.attr("id").value_or(""));
  const proto::PresenceState view = view_of(user);

  if (auto* e = std::get_if<proto::Enable>(&*request)) {
    (void)e;
    ++enables;
    moments_[id] = view;
    reply(iq, proto::to_xml(proto::Enabled{604800, proto::digest_of(view)}));
  } else if (auto* c = std::get_if<proto::Checkpoint>(&*request)) {
    ++checkpoints;
    if (moments_.count(c->prev) == 0) {
      reply_error(iq, proto::make_error(proto::AppCondition::kOutOfOrder));
      return;
    }
    moments_[id] = view;
    reply(iq, proto::to_xml(proto::Checkpointed{proto::digest_of(view)}));
  } else if (auto* s = std::get_if<proto::Sync>(&*request)) {
    ++syncs;
    if (sync_error) {
      reply_error(iq, *sync_error);
      return;
    }
    auto it = moments_.find(s->key.last);
    if (it == moments_.end()) {
      reply_error(iq, proto::make_error(proto::AppCondition::kUnknownKey));
      return;
    }
    proto::Delta d = proto::diff(it->second, view);
    d.lifetime = 604800;
    if (corrupt_digest) d.state = proto::digest_of(it->second);
    moments_.erase(it);
    moments_[id] = view;
    last_delta = d;
    reply(iq, proto::to_xml(d));
    if (on_sync_answered) on_sync_answered();
  } else {
    ++disables;
    reply(iq, std::nullopt);
  }
}

void StubComponent::reply(const xml::Element& iq, std::optional<xml::Element> payload) {
  xml::Element r("iq", std::string(ns::kComponent));
  r.set_attr("type", "result");
  r.set_attr("id", std::string(iq.attr("id").value_or("")));
  r.set_attr("to", std::string(iq.attr("from").value_or("")));
  r.set_attr("from", std::string(iq.attr("to").value_or("")));
  if (payload) r.add(std::move(*payload));
  send(to_tag(r).release());
}

void StubComponent::reply_error(const xml::Element& iq, const proto::StanzaError& e) {
  xml::Element r("iq", std::string(ns::kComponent));
  r.set_attr("type", "error");
  r.set_attr("id", std::string(iq.attr("id").value_or("")));
  r.set_attr("to", std::string(iq.attr("from").value_or("")));
  r.set_attr("from", std::string(iq.attr("to").value_or("")));
  r.add(proto::to_xml(e, ns::kComponent));
  send(to_tag(r).release());
}

}  // namespace rpsync::client::testing
