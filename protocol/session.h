// SPDX-License-Identifier: MIT
// enable / enabled, checkpoint / checkpointed, disable (spec: "Enabling",
// "Checkpoints", "Disabling").
#pragma once

#include <cstdint>
#include <string>

#include "digest.h"
#include "error.h"
#include "limits.h"
#include "xml.h"

namespace rpsync::proto {

struct Enable {
  std::string stream;  // the client's current stream id
  friend bool operator==(const Enable&, const Enable&) = default;
};

struct Enabled {
  std::uint32_t lifetime = 0;  // seconds a key lives without a checkpoint
  StateDigest state;           // the component's view of the user's presence state
  friend bool operator==(const Enabled&, const Enabled&) = default;
};

struct Checkpoint {
  std::string stream;
  std::string prev;  // `last` of the key being moved forward
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

struct Checkpointed {
  StateDigest state;
  friend bool operator==(const Checkpointed&, const Checkpointed&) = default;
};

struct Disable {
  std::string stream;
  friend bool operator==(const Disable&, const Disable&) = default;
};

xml::Element to_xml(const Enable& e);
xml::Element to_xml(const Enabled& e);
xml::Element to_xml(const Checkpoint& e);
xml::Element to_xml(const Checkpointed& e);
xml::Element to_xml(const Disable& e);

Result<Enable> parse_enable(const xml::Element& e, const Limits& limits = kDefaultLimits);
Result<Enabled> parse_enabled(const xml::Element& e, const Limits& limits = kDefaultLimits);
Result<Checkpoint> parse_checkpoint(const xml::Element& e, const Limits& limits = kDefaultLimits);
Result<Checkpointed> parse_checkpointed(const xml::Element& e,
                                        const Limits& limits = kDefaultLimits);
Result<Disable> parse_disable(const xml::Element& e, const Limits& limits = kDefaultLimits);

}  // namespace rpsync::proto
