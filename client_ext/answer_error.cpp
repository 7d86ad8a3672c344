// SPDX-License-Identifier: MIT
#include "client_ext/answer_error.h"

#include <gloox/error.h>
#include <gloox/tag.h>

#include <memory>

#include "client_ext/tag_convert.h"

namespace rpsync::client {

proto::StanzaError error_of(const gloox::IQ& iq) {
  if (const gloox::Error* e = iq.error()) {
    std::unique_ptr<gloox::Tag> t(e->tag());
    if (t) {
      if (auto parsed = proto::parse_stanza_error(to_element(*t))) return *parsed;
    }
  }
  return proto::StanzaError{proto::ErrorType::kCancel, proto::Condition::kUndefinedCondition,
                            proto::AppCondition::kNone, "unparsable error"};
}

bool component_missing(const proto::StanzaError& e) {
  if (e.app != proto::AppCondition::kNone) return false;
  switch (e.condition) {
    case proto::Condition::kServiceUnavailable:
    case proto::Condition::kRemoteServerNotFound:
    case proto::Condition::kRemoteServerTimeout:
    case proto::Condition::kRecipientUnavailable:
    case proto::Condition::kFeatureNotImplemented:
      return true;
    default:
      return false;
  }
}

std::string describe(const proto::StanzaError& e) {
  std::string s(proto::to_string(e.condition));
  if (e.app != proto::AppCondition::kNone) s += "/" + std::string(proto::to_string(e.app));
  if (!e.text.empty()) s += " (" + e.text + ")";
  return s;
}

}  // namespace rpsync::client
