// SPDX-License-Identifier: MIT
// The answer to a successful sync (spec: "Delta Format").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "digest.h"
#include "error.h"
#include "limits.h"
#include "presence.h"
#include "xml.h"

namespace rpsync::proto {

struct ContactChange {
  enum class Kind : std::uint8_t { kAdded, kRemoved };
  std::string jid;  // bare JID
  Kind kind = Kind::kAdded;
  friend bool operator==(const ContactChange&, const ContactChange&) = default;
};

// A resource not in the key's state: every non-default field.
struct NewResource {
  std::string jid;  // full JID
  PresenceFields fields;
  friend bool operator==(const NewResource&, const NewResource&) = default;
};

// A resource in both states whose fields differ. `set` fields carry their new value in
// `values` (other members of `values` are meaningless); `unset` fields went back to
// their default. set & unset == 0.
struct ChangedResource {
  std::string jid;
  FieldMask set = 0;
  FieldMask unset = 0;
  PresenceFields values;
  friend bool operator==(const ChangedResource& a, const ChangedResource& b);
};

struct Delta {
  std::uint32_t lifetime = 0;  // of the new session's key, seconds
  StateDigest state;           // digest of the state after applying this delta
  std::vector<ContactChange> contacts;
  std::vector<NewResource> added;
  std::vector<ChangedResource> changed;
  std::vector<std::string> unavailable;  // full JIDs
  bool empty() const {
    return contacts.empty() && added.empty() && changed.empty() && unavailable.empty();
  }
  std::size_t items() const {
    return contacts.size() + added.size() + changed.size() + unavailable.size();
  }
  friend bool operator==(const Delta&, const Delta&) = default;
};

// Builds the ChangedResource that turns `before` into `after` for jid.
ChangedResource make_change(std::string jid, const PresenceFields& before,
                            const PresenceFields& after);

// What in `d` a receiver's parse_delta() would refuse for exceeding `limits` (a JID,
// status or other field too long, too many items), or nullopt when it is within them.
// A sender checks before sending: a value the server relayed (a 2 KB status, say) may be
// legal XMPP and still not fit this protocol, and then the answer must be a failure.
std::optional<std::string> exceeds_limits(const Delta& d, const Limits& limits = kDefaultLimits);

xml::Element to_xml(const Delta& d);
// Appends the field children of `p` selected by `mask` (only non-default ones are written).
void append_fields(xml::Element& parent, const PresenceFields& p, FieldMask mask);
Result<Delta> parse_delta(const xml::Element& e, const Limits& limits = kDefaultLimits);

}  // namespace rpsync::proto
