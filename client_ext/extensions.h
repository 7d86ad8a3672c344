// SPDX-License-Identifier: MIT
// gloox StanzaExtensions for the rpsync IQ payloads (spec: "Protocol"). Each one wraps a
// protocol/ value and uses protocol/'s parse and to_xml: the wire format is written in
// exactly one place. Register the prototypes once per client with register_extensions().
#pragma once

#include <gloox/stanzaextension.h>

#include <optional>
#include <string>
#include <utility>

#include "../protocol/delta.h"
#include "../protocol/error.h"
#include "../protocol/session.h"
#include "../protocol/sync.h"

namespace gloox {
class ClientBase;
class Tag;
}  // namespace gloox

namespace rpsync::client {

// Extension type ids (gloox requires ids above gloox::ExtUser for user extensions).
enum class ExtensionId : int {
  kEnable = 0x5200,
  kEnabled,
  kCheckpoint,
  kCheckpointed,
  kDisable,
  kSync,
  kDelta,
  kSyncedMarker,
};
int extension_type(ExtensionId id);

// Per-payload facts: the element name, its id and the protocol parser.
template <class T>
struct PayloadTraits;

// A StanzaExtension holding one protocol value. A received element that does not parse
// yields an extension with valid() == false and the parser's error in error().
template <class T>
class PayloadExtension final : public gloox::StanzaExtension {
 public:
  // The prototype registered with gloox (holds no value).
  PayloadExtension();
  explicit PayloadExtension(T value);
  explicit PayloadExtension(const gloox::Tag* tag);

  bool valid() const { return value_.has_value(); }
  const T* value() const { return value_ ? &*value_ : nullptr; }
  const proto::StanzaError* error() const { return error_ ? &*error_ : nullptr; }
  static int type_id();

  const std::string& filterString() const override;
  gloox::StanzaExtension* newInstance(const gloox::Tag* tag) const override;
  gloox::Tag* tag() const override;
  gloox::StanzaExtension* clone() const override;

 private:
  std::optional<T> value_;
  std::optional<proto::StanzaError> error_;
};

using EnableExtension = PayloadExtension<proto::Enable>;
using EnabledExtension = PayloadExtension<proto::Enabled>;
using CheckpointExtension = PayloadExtension<proto::Checkpoint>;
using CheckpointedExtension = PayloadExtension<proto::Checkpointed>;
using DisableExtension = PayloadExtension<proto::Disable>;
using SyncExtension = PayloadExtension<proto::Sync>;
using DeltaExtension = PayloadExtension<proto::Delta>;

extern template class PayloadExtension<proto::Enable>;
extern template class PayloadExtension<proto::Enabled>;
extern template class PayloadExtension<proto::Checkpoint>;
extern template class PayloadExtension<proto::Checkpointed>;
extern template class PayloadExtension<proto::Disable>;
extern template class PayloadExtension<proto::Sync>;
extern template class PayloadExtension<proto::Delta>;

// The <synced/> marker of an initial presence after a verified sync (spec: "Skipping
// the Presence Flood"). Outgoing only: the server strips it, so it is never received.
class SyncedMarkerExtension final : public gloox::StanzaExtension {
 public:
  SyncedMarkerExtension();
  const std::string& filterString() const override;
  gloox::StanzaExtension* newInstance(const gloox::Tag* tag) const override;
  gloox::Tag* tag() const override;
  gloox::StanzaExtension* clone() const override { return new SyncedMarkerExtension(); }
};

// Registers the prototypes of the seven IQ payload extensions with `client` (which owns them).
void register_extensions(gloox::ClientBase& client);

}  // namespace rpsync::client
