// SPDX-License-Identifier: MIT
#include "client_ext/extensions.h"

#include <gloox/clientbase.h>
#include <gloox/tag.h>

#include "client_ext/tag_convert.h"
#include "protocol/marker.h"
#include "protocol/ns.h"

namespace rpsync::client {

int extension_type(ExtensionId id) {
  return static_cast<int>(gloox::ExtUser) + static_cast<int>(id);
}

template <>
struct PayloadTraits<proto::Enable> {
  static constexpr const char* kName = "enable";
  static constexpr ExtensionId kId = ExtensionId::kEnable;
  static proto::Result<proto::Enable> parse(const xml::Element& e) {
    return proto::parse_enable(e);
  }
};
template <>
struct PayloadTraits<proto::Enabled> {
  static constexpr const char* kName = "enabled";
  static constexpr ExtensionId kId = ExtensionId::kEnabled;
  static proto::Result<proto::Enabled> parse(const xml::Element& e) {
    return proto::parse_enabled(e);
  }
};
template <>
struct PayloadTraits<proto::Checkpoint> {
  static constexpr const char* kName = "checkpoint";
  static constexpr ExtensionId kId = ExtensionId::kCheckpoint;
  static proto::Result<proto::Checkpoint> parse(const xml::Element& e) {
    return proto::parse_checkpoint(e);
  }
};
template <>
struct PayloadTraits<proto::Checkpointed> {
  static constexpr const char* kName = "checkpointed";
  static constexpr ExtensionId kId = ExtensionId::kCheckpointed;
  static proto::Result<proto::Checkpointed> parse(const xml::Element& e) {
    return proto::parse_checkpointed(e);
  }
};
template <>
struct PayloadTraits<proto::Disable> {
  static constexpr const char* kName = "disable";
  static constexpr ExtensionId kId = ExtensionId::kDisable;
  static proto::Result<proto::Disable> parse(const xml::Element& e) {
    return proto::parse_disable(e);
  }
};
template <>
struct PayloadTraits<proto::Sync> {
  static constexpr const char* kName = "sync";
  static constexpr ExtensionId kId = ExtensionId::kSync;
  static proto::Result<proto::Sync> parse(const xml::Element& e) { return proto::parse_sync(e); }
};
template <>
struct PayloadTraits<proto::Delta> {
  static constexpr const char* kName = "delta";
  static constexpr ExtensionId kId = ExtensionId::kDelta;
  static proto::Result<proto::Delta> parse(const xml::Element& e) { return proto::parse_delta(e); }
};

template <class T>
int PayloadExtension<T>::type_id() {
  return extension_type(PayloadTraits<T>::kId);
}

template <class T>
PayloadExtension<T>::PayloadExtension() : gloox::StanzaExtension(type_id()) {}

template <class T>
PayloadExtension<T>::PayloadExtension(T value)
    : gloox::StanzaExtension(type_id()), value_(std::move(value)) {
  m_valid = true;
}

template <class T>
PayloadExtension<T>::PayloadExtension(const gloox::Tag* tag) : gloox::StanzaExtension(type_id()) {
  if (tag == nullptr) return;
  proto::Result<T> parsed = PayloadTraits<T>::parse(to_element(*tag));
  if (parsed.ok()) {
    value_ = std::move(parsed).value();
    m_valid = true;
  } else {
    error_ = parsed.error();
  }
}

template <class T>
const std::string& PayloadExtension<T>::filterString() const {
  static const std::string filter =
      std::string("/iq/") + PayloadTraits<T>::kName + "[@xmlns='" + std::string(ns::kRpsync) + "']";
  return filter;
}

template <class T>
gloox::StanzaExtension* PayloadExtension<T>::newInstance(const gloox::Tag* tag) const {
  return new PayloadExtension<T>(tag);
}

template <class T>
gloox::Tag* PayloadExtension<T>::tag() const {
  // gloox asks for tag() of every extension of an outgoing stanza; an invalid one
  // contributes nothing (gloox skips null).
  if (!value_) return nullptr;
  return to_tag(proto::to_xml(*value_)).release();
}

template <class T>
gloox::StanzaExtension* PayloadExtension<T>::clone() const {
  return new PayloadExtension<T>(*this);
}

template class PayloadExtension<proto::Enable>;
template class PayloadExtension<proto::Enabled>;
template class PayloadExtension<proto::Checkpoint>;
template class PayloadExtension<proto::Checkpointed>;
template class PayloadExtension<proto::Disable>;
template class PayloadExtension<proto::Sync>;
template class PayloadExtension<proto::Delta>;

SyncedMarkerExtension::SyncedMarkerExtension()
    : gloox::StanzaExtension(extension_type(ExtensionId::kSyncedMarker)) {
  m_valid = true;
}

const std::string& SyncedMarkerExtension::filterString() const {
  static const std::string filter = "/presence/synced[@xmlns='" + std::string(ns::kRpsync) + "']";
  return filter;
}

gloox::StanzaExtension* SyncedMarkerExtension::newInstance(const gloox::Tag* /*tag*/) const {
  return new SyncedMarkerExtension();
}

gloox::Tag* SyncedMarkerExtension::tag() const {
  return to_tag(proto::synced_marker()).release();
}

void register_extensions(gloox::ClientBase& client) {
  client.registerStanzaExtension(new EnableExtension());
  client.registerStanzaExtension(new EnabledExtension());
  client.registerStanzaExtension(new CheckpointExtension());
  client.registerStanzaExtension(new CheckpointedExtension());
  client.registerStanzaExtension(new DisableExtension());
  client.registerStanzaExtension(new SyncExtension());
  client.registerStanzaExtension(new DeltaExtension());
}

}  // namespace rpsync::client
