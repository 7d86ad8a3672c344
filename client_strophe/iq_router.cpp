// SPDX-License-Identifier: MIT
#include "client_strophe/iq_router.h"

#include <utility>

#include "protocol/ns.h"

namespace rpsync::strophe {

std::string IqRouter::send(std::string_view type, const std::string& to, xml::Element payload,
                           Callback on_answer) {
  std::string id = transport_.new_id();
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", std::string(type));
  iq.set_attr("id", id);
  if (!to.empty()) iq.set_attr("to", to);
  iq.add(std::move(payload));
  pending_.insert_or_assign(id, std::move(on_answer));
  transport_.send(iq);
  return id;
}

bool IqRouter::dispatch(const xml::Element& stanza, std::size_t bytes) {
  if (stanza.name() != "iq") return false;
  const auto type = stanza.attr("type");
  if (!type || (*type != "result" && *type != "error")) return false;
  const auto id = stanza.attr("id");
  if (!id) return false;
  auto it = pending_.find(*id);
  if (it == pending_.end()) return false;
  Callback cb = std::move(it->second);
  pending_.erase(it);
  if (cb) cb(stanza, bytes);
  return true;
}

const xml::Element* payload_of(const xml::Element& iq) {
  for (const auto& c : iq.children()) {
    if (c.name() != "error") return &c;
  }
  return nullptr;
}

bool is_result(const xml::Element& iq) {
  return iq.attr("type") == std::optional<std::string_view>("result");
}

}  // namespace rpsync::strophe
