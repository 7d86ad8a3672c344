// SPDX-License-Identifier: MIT
#include "protocol/payload.h"

#include "protocol/ns.h"

namespace rpsync::proto {
namespace {

template <class T>
Result<Request> widen(Result<T> r) {
  if (!r) return r.error();
  return Request{std::move(r).value()};
}

}  // namespace

Result<Request> parse_request(const xml::Element& iq, const Limits& limits) {
  for (const auto& c : iq.children()) {
    if (c.ns() != ns::kRpsync) continue;
    if (c.name() == "enable") return widen(parse_enable(c, limits));
    if (c.name() == "checkpoint") return widen(parse_checkpoint(c, limits));
    if (c.name() == "disable") return widen(parse_disable(c, limits));
    if (c.name() == "sync") return widen(parse_sync(c, limits));
    return StanzaError{ErrorType::kCancel, Condition::kFeatureNotImplemented, AppCondition::kNone,
                       "<" + c.name() + "/> is not an rpsync request"};
  }
  return bad_request("no rpsync request in this IQ");
}

}  // namespace rpsync::proto
