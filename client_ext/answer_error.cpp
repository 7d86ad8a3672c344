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

}  // namespace rpsync::client
