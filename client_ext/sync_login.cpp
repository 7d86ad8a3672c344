// SPDX-License-Identifier: MIT
#include "client_ext/sync_login.h"

#include "client_ext/answer_error.h"
#include "client_ext/extensions.h"

namespace rpsync::client {

SyncAnswer read_sync_answer(const gloox::IQ& iq, PresenceCache& cache, std::size_t answer_bytes) {
  if (iq.subtype() == gloox::IQ::Result) {
    const auto* ext = iq.findExtension<DeltaExtension>(DeltaExtension::type_id());
    const proto::Delta* delta = ext != nullptr ? ext->value() : nullptr;
    const std::string why = ext != nullptr && ext->error() ? ext->error()->text : "no <delta/>";
    return read_delta(delta, why, cache, answer_bytes);
  }
  return read_sync_error(error_of(iq));
}

}  // namespace rpsync::client
