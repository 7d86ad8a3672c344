// SPDX-License-Identifier: MIT
#include "plugin/core/delta_builder.h"

#include <string>
#include <utility>
#include <vector>

#include "plugin/core/presence_table.h"

namespace rpsync::core {
namespace {

std::uint64_t changed_bytes(const proto::ChangedResource& ch) {
  const auto& f = ch.values;
  auto has = [&](proto::Field x) { return (ch.set & proto::bit(x)) != 0; };
  std::uint64_t n = 0;
  if (has(proto::Field::kShow)) n += 4 + kFieldOverhead;
  if (has(proto::Field::kStatus)) n += f.status.size() + kFieldOverhead;
  if (has(proto::Field::kPriority)) n += 4 + kFieldOverhead;
  if (has(proto::Field::kCaps) && f.caps)
    n += kCapsOverhead + f.caps->hash.size() + f.caps->node.size() + f.caps->ver.size();
  if (has(proto::Field::kPhoto)) n += f.photo.size() + kFieldOverhead;
  if (has(proto::Field::kIdle)) n += f.idle_since.size() + kFieldOverhead;
  return n;
}

// One delta under construction: the merge of R0 and R1 calls removed/added/kept per contact.
class DeltaBuilder {
 public:
  DeltaBuilder(const PresenceTable& t, std::uint64_t v, DeltaCost& cost)
      : t_(t), v_(v), cost_(cost) {}

  proto::Delta run(const std::vector<std::uint32_t>& r0, const std::vector<std::uint32_t>& r1) {
    cost_ = DeltaCost{};
    std::size_t i = 0, j = 0;
    while (i < r0.size() || j < r1.size()) {
      if (j == r1.size() || (i < r0.size() && r0[i] < r1[j])) {
        removed(r0[i++]);
        continue;
      }
      const PresenceTable::Contact& c = t_.contacts[r1[j]];
      cost_.full += c.count ? c.cost : kUnavailableOverhead + 2 * c.jid.size();
      if (i == r0.size() || r1[j] < r0[i]) {
        added(r1[j++]);
      } else {
        kept(r1[j]);
        ++i;
        ++j;
      }
    }
    return std::move(d_);
  }

 private:
  // Left the roster: the contact, and each resource it had at v as unavailable.
  void removed(std::uint32_t cid) {
    const PresenceTable::Contact& c = t_.contacts[cid];
    d_.contacts.push_back({std::string(c.jid.view()), proto::ContactChange::Kind::kRemoved});
    cost_.delta += kDeltaContactOverhead + c.jid.size();
    for (std::uint32_t rid = c.first; rid != kNone; rid = t_.res[rid].next)
      if (t_.state_at(t_.res[rid], v_)) unavailable(t_.res[rid]);
  }
  // Joined the roster: the contact, and its current resources in full.
  void added(std::uint32_t cid) {
    const PresenceTable::Contact& c = t_.contacts[cid];
    d_.contacts.push_back({std::string(c.jid.view()), proto::ContactChange::Kind::kAdded});
    cost_.delta += kDeltaContactOverhead + c.jid.size();
    for (std::uint32_t rid = c.first; rid != kNone; rid = t_.res[rid].next)
      if (t_.res[rid].avail) added_resource(t_.res[rid]);
  }
  // On both rosters: per resource changed after v, new / changed fields / unavailable.
  void kept(std::uint32_t cid) {
    const PresenceTable::Contact& c = t_.contacts[cid];
    if (c.changed <= v_) return;
    for (std::uint32_t rid = c.first; rid != kNone; rid = t_.res[rid].next) {
      const PresenceTable::Resource& r = t_.res[rid];
      if (r.since <= v_) continue;
      const Packed* old = t_.state_at(r, v_);
      if (!old && r.avail) {
        added_resource(r);
      } else if (old && !r.avail) {
        unavailable(r);
      } else if (old && r.avail && !Packed::same(*old, r.fields)) {
        changed(r, *old);
      }
    }
  }
  void added_resource(const PresenceTable::Resource& r) {
    d_.added.push_back({std::string(r.jid.view()), t_.packer.unpack(r.fields)});
    cost_.delta += kDeltaNewOverhead + r.jid.size() + field_bytes(r.fields, t_.packer);
  }
  void unavailable(const PresenceTable::Resource& r) {
    d_.unavailable.push_back(std::string(r.jid.view()));
    cost_.delta += kDeltaUnavailableOverhead + r.jid.size();
  }
  // Only the differing fields, with unsets; nothing when the change came back.
  void changed(const PresenceTable::Resource& r, const Packed& old) {
    auto ch = proto::make_change(std::string(r.jid.view()), t_.packer.unpack(old),
                                 t_.packer.unpack(r.fields));
    if ((ch.set | ch.unset) == 0) return;
    cost_.delta += kDeltaChangedOverhead + r.jid.size() + changed_bytes(ch) +
                   kDeltaUnsetOverhead * static_cast<std::uint64_t>(__builtin_popcount(ch.unset));
    d_.changed.push_back(std::move(ch));
  }

  const PresenceTable& t_;
  const std::uint64_t v_;
  DeltaCost& cost_;
  proto::Delta d_;
};

}  // namespace

std::uint64_t field_bytes(const Packed& p, const FieldTable& table) {
  std::uint64_t n = p.text.size() + 4;  // priority digits
  if (p.show != proto::Show::kNone) n += 4 + kFieldOverhead;
  if (p.caps != kNone) {
    const auto& c = table.caps(p.caps);
    n += kCapsOverhead + c.hash.size() + c.node.size() + c.ver.size();
  }
  return n;
}

std::uint64_t presence_bytes(std::size_t jid_size, const Packed& p, const FieldTable& table) {
  return kPresenceOverhead + 2 * jid_size + field_bytes(p, table);
}

proto::Delta build_delta(const PresenceTable& table, std::uint32_t r0, std::uint64_t v,
                         std::uint32_t r1, DeltaCost& cost) {
  return DeltaBuilder(table, v, cost).run(table.members_of(r0), table.members_of(r1));
}

}  // namespace rpsync::core
