// SPDX-License-Identifier: MIT
#include "tests/scenario/party.h"

#include <algorithm>

#include "protocol/ns.h"

namespace rpsync::test::scenario {

namespace {

xml::Element stanza(std::string name) {
  return xml::Element(std::move(name), std::string(ns::kClient));
}

std::string show_fields(const proto::PresenceFields& f) {
  std::string s;
  if (f.show != proto::Show::kNone) s += " show=" + std::string(proto::to_string(f.show));
  if (!f.status.empty()) s += " status='" + f.status + "'";
  if (f.priority != 0) s += " prio=" + std::to_string(f.priority);
  if (f.caps) s += " caps=" + f.caps->ver;
  if (!f.photo.empty()) s += " photo=" + f.photo;
  if (!f.idle_since.empty()) s += " idle=" + f.idle_since;
  return s;
}

}  // namespace

std::string Answer::describe() const {
  if (!arrived) return "timeout";
  if (!error) return "result";
  return "error " + std::string(proto::to_string(error->condition)) + "/" +
         std::string(proto::to_string(error->app)) + ": " + error->text;
}

std::unique_ptr<Party> Party::login(std::uint16_t c2s_port, const std::string& bare,
                                    const std::string& password, const std::string& resource,
                                    std::string* why) {
  auto at = bare.find('@');
  auto client =
      TestClient::login(c2s_port, bare.substr(0, at), bare.substr(at + 1), password, resource, why);
  if (!client) return nullptr;
  return std::unique_ptr<Party>(new Party(std::move(client), resource));
}

std::string Party::next_id(const std::string& prefix) {
  return prefix + "-" + std::to_string(++counter_);
}

bool Party::sends_presence(const proto::PresenceFields& fields) {
  auto p = stanza("presence");
  proto::add_presence_children(p, fields);
  return client_->send(p);
}

bool Party::sends_unavailable() {
  auto p = stanza("presence");
  p.set_attr("type", "unavailable");
  return client_->send(p);
}

std::optional<xml::Element> Party::receives(const std::function<bool(const xml::Element&)>& pred,
                                            Millis timeout) {
  for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
    if (pred(*it)) {
      xml::Element e = std::move(*it);
      inbox_.erase(it);
      return e;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto e = client_->next(left);
    if (!e) return std::nullopt;
    if (pred(*e)) return e;
    inbox_.push_back(std::move(*e));
  }
}

bool Party::settles(Millis timeout) {
  auto iq = stanza("iq");
  const std::string id = next_id("ping");
  iq.set_attr("type", "get");
  iq.set_attr("id", id);
  iq.set_attr("to", std::string(bare().substr(bare().find('@') + 1)));
  iq.add(xml::Element("ping", std::string(ns::kPing)));
  if (!client_->send(iq)) return false;
  return receives([&](const xml::Element& e) { return e.name() == "iq" && e.attr("id") == id; },
                  timeout)
      .has_value();
}

Flood Party::sends_presence_and_collects_flood(const proto::PresenceFields& fields, Millis quiet,
                                               Millis timeout) {
  Flood f;
  inbox_.clear();
  if (!sends_presence(fields)) return f;
  const std::string own = bare();
  const std::string id = next_id("flood-ping");
  auto iq = stanza("iq");
  iq.set_attr("type", "get");
  iq.set_attr("id", id);
  iq.set_attr("to", std::string(own.substr(own.find('@') + 1)));
  iq.add(xml::Element("ping", std::string(ns::kPing)));
  if (!client_->send(iq)) return f;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return f;
    auto e = client_->next(f.complete ? std::min(left, quiet) : left);
    if (!e) return f;  // after the ping result: quiet long enough
    if (e->name() == "iq" && e->attr("id") == id) {
      f.complete = true;
      if (quiet.count() == 0) return f;
      continue;
    }
    if (e->name() == "presence") {
      if (proto::bare_of(e->attr("from").value_or("")) != own) {
        ++f.presences;
        f.bytes += xml::to_string(*e).size();
      }
      fold_presence(f.state, *e, own);
    } else {
      inbox_.push_back(std::move(*e));
    }
  }
}

bool Party::sends_iq_only(const std::string& to, const xml::Element& payload,
                          const std::string& id) {
  auto iq = stanza("iq");
  iq.set_attr("type", "set");
  iq.set_attr("id", id);
  if (!to.empty()) iq.set_attr("to", to);
  iq.add(payload);
  return client_->send(iq);
}

Answer Party::answer_to(const std::string& id, Millis timeout) {
  Answer a;
  auto e = receives(
      [&](const xml::Element& s) {
        return s.name() == "iq" && s.attr("id") == id &&
               (s.attr("type") == "result" || s.attr("type") == "error");
      },
      timeout);
  if (!e) return a;
  a.arrived = true;
  a.bytes = xml::to_string(*e).size();
  if (e->attr("type") == "error") {
    const xml::Element* err = e->child("error");
    a.error = err ? proto::parse_stanza_error(*err) : std::nullopt;
    if (!a.error) a.error = proto::StanzaError{};  // an error we could not read
  } else {
    for (const auto& c : e->children())
      if (c.name() != "error") {
        a.payload = c;
        break;
      }
  }
  return a;
}

Answer Party::sends_iq(const std::string& to, const std::string& type, const xml::Element& payload,
                       const std::string& id, Millis timeout) {
  auto iq = stanza("iq");
  iq.set_attr("type", type);
  iq.set_attr("id", id);
  if (!to.empty()) iq.set_attr("to", to);
  iq.add(payload);
  if (!client_->send(iq)) return {};
  return answer_to(id, timeout);
}

Answer Party::sends_enable(const std::string& component, const std::string& id) {
  return sends_iq(component, "set", proto::to_xml(proto::Enable{stream_id()}), id);
}

Answer Party::sends_checkpoint(const std::string& component, const std::string& id,
                               const std::string& prev) {
  return sends_iq(component, "set", proto::to_xml(proto::Checkpoint{stream_id(), prev}), id);
}

Answer Party::sends_sync(const std::string& component, const std::string& id,
                         const proto::SyncKey& old_key) {
  return sends_iq(component, "set", proto::to_xml(proto::Sync{stream_id(), old_key}), id);
}

bool Party::sets_roster_item(const std::string& contact_bare, bool remove) {
  xml::Element query("query", std::string(ns::kRoster));
  auto& item = query.add(xml::Element("item", std::string(ns::kRoster)));
  item.set_attr("jid", contact_bare);
  if (remove) item.set_attr("subscription", "remove");
  Answer a = sends_iq("", "set", query, next_id("roster"));
  return a.ok();
}

bool Party::sends_subscription(const std::string& to_bare, const std::string& type) {
  auto p = stanza("presence");
  p.set_attr("to", to_bare);
  p.set_attr("type", type);
  return client_->send(p);
}

void fold_presence(proto::PresenceState& state, const xml::Element& presence,
                   const std::string& own_bare) {
  if (presence.name() != "presence") return;
  const std::string from(presence.attr("from").value_or(""));
  const std::string_view bare = proto::bare_of(from);
  if (bare.size() == from.size() || bare == own_bare) return;  // bare JID or own session
  const auto type = presence.attr("type").value_or("");
  if (type.empty()) {
    state[from] = proto::fields_from_presence(presence);
  } else if (type == "unavailable") {
    state.erase(from);
  }
}

std::string describe(const proto::PresenceState& s) {
  std::string out = "{";
  for (const auto& [jid, f] : s) out += "\n  " + jid + show_fields(f);
  return out + "\n}";
}

std::string describe(const proto::Delta& d) {
  std::string out = "delta(" + std::to_string(d.state.count()) + ") {";
  for (const auto& c : d.contacts)
    out += "\n  contact " + c.jid +
           (c.kind == proto::ContactChange::Kind::kAdded ? " added" : " removed");
  for (const auto& n : d.added) out += "\n  new " + n.jid + show_fields(n.fields);
  for (const auto& c : d.changed) {
    out += "\n  changed " + c.jid + " set{";
    for (auto f : proto::kFieldsInOrder)
      if (c.set & proto::bit(f)) out += " " + std::string(proto::field_name(f));
    out += " } unset{";
    for (auto f : proto::kFieldsInOrder)
      if (c.unset & proto::bit(f)) out += " " + std::string(proto::field_name(f));
    out += " }" + show_fields(c.values);
  }
  for (const auto& u : d.unavailable) out += "\n  unavailable " + u;
  return out + "\n}";
}

proto::Delta sorted(proto::Delta d) {
  auto by_jid = [](const auto& a, const auto& b) { return a.jid < b.jid; };
  std::sort(d.contacts.begin(), d.contacts.end(), by_jid);
  std::sort(d.added.begin(), d.added.end(), by_jid);
  std::sort(d.changed.begin(), d.changed.end(), by_jid);
  std::sort(d.unavailable.begin(), d.unavailable.end());
  return d;
}

}  // namespace rpsync::test::scenario
