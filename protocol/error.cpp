// SPDX-License-Identifier: MIT
#include "protocol/error.h"

#include <array>

#include "protocol/ns.h"

namespace rpsync::proto {
namespace {

constexpr std::array<std::pair<ErrorType, std::string_view>, 5> kTypes{{
    {ErrorType::kCancel, "cancel"},
    {ErrorType::kContinue, "continue"},
    {ErrorType::kModify, "modify"},
    {ErrorType::kAuth, "auth"},
    {ErrorType::kWait, "wait"},
}};

constexpr std::array<std::pair<Condition, std::string_view>, 17> kConditions{{
    {Condition::kBadRequest, "bad-request"},
    {Condition::kConflict, "conflict"},
    {Condition::kFeatureNotImplemented, "feature-not-implemented"},
    {Condition::kForbidden, "forbidden"},
    {Condition::kInternalServerError, "internal-server-error"},
    {Condition::kItemNotFound, "item-not-found"},
    {Condition::kNotAcceptable, "not-acceptable"},
    {Condition::kNotAllowed, "not-allowed"},
    {Condition::kNotAuthorized, "not-authorized"},
    {Condition::kPolicyViolation, "policy-violation"},
    {Condition::kRecipientUnavailable, "recipient-unavailable"},
    {Condition::kRemoteServerNotFound, "remote-server-not-found"},
    {Condition::kRemoteServerTimeout, "remote-server-timeout"},
    {Condition::kResourceConstraint, "resource-constraint"},
    {Condition::kServiceUnavailable, "service-unavailable"},
    {Condition::kUndefinedCondition, "undefined-condition"},
    {Condition::kUnexpectedRequest, "unexpected-request"},
}};

struct AppRule {
  AppCondition app;
  std::string_view name;
  ErrorType type;
  Condition condition;
};

// The spec's error table ("Error Handling").
constexpr std::array<AppRule, 10> kAppRules{{
    {AppCondition::kUnknownKey, "unknown-key", ErrorType::kCancel, Condition::kItemNotFound},
    {AppCondition::kExpired, "expired", ErrorType::kCancel, Condition::kItemNotFound},
    {AppCondition::kContinuityLost, "continuity-lost", ErrorType::kCancel,
     Condition::kUndefinedCondition},
    {AppCondition::kTooLarge, "too-large", ErrorType::kCancel, Condition::kUndefinedCondition},
    {AppCondition::kNotEnabled, "not-enabled", ErrorType::kCancel, Condition::kUnexpectedRequest},
    {AppCondition::kOutOfOrder, "out-of-order", ErrorType::kModify, Condition::kUnexpectedRequest},
    {AppCondition::kNotReady, "not-ready", ErrorType::kWait, Condition::kServiceUnavailable},
    {AppCondition::kRateLimited, "rate-limited", ErrorType::kWait, Condition::kResourceConstraint},
    {AppCondition::kStanzaTooBig, "stanza-too-big", ErrorType::kModify,
     Condition::kPolicyViolation},
    {AppCondition::kBusy, "busy", ErrorType::kWait, Condition::kResourceConstraint},
}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E v) {
  for (const auto& [k, name] : table)
    if (k == v) return name;
  return {};
}

template <class E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table,
                          std::string_view s) {
  for (const auto& [k, name] : table)
    if (name == s) return k;
  return std::nullopt;
}

}  // namespace

StanzaError make_error(AppCondition app, std::string text) {
  for (const auto& r : kAppRules)
    if (r.app == app) return StanzaError{r.type, r.condition, app, std::move(text)};
  return StanzaError{ErrorType::kCancel, Condition::kUndefinedCondition, app, std::move(text)};
}

StanzaError to_stanza_error(const Status& status) {
  return make_error(AppCondition::kNotReady, status.message());
}

StanzaError bad_request(std::string text) {
  return StanzaError{ErrorType::kModify, Condition::kBadRequest, AppCondition::kNone,
                     std::move(text)};
}

std::string_view to_string(ErrorType t) {
  return name_of(kTypes, t);
}
std::string_view to_string(Condition c) {
  return name_of(kConditions, c);
}
std::string_view to_string(AppCondition c) {
  for (const auto& r : kAppRules)
    if (r.app == c) return r.name;
  return {};
}

std::optional<ErrorType> error_type_from(std::string_view s) {
  return value_of(kTypes, s);
}
std::optional<Condition> condition_from(std::string_view s) {
  return value_of(kConditions, s);
}
std::optional<AppCondition> app_condition_from(std::string_view s) {
  for (const auto& r : kAppRules)
    if (r.name == s) return r.app;
  return std::nullopt;
}

xml::Element to_xml(const StanzaError& e, std::string_view stanza_ns) {
  xml::Element err("error", std::string(stanza_ns));
  err.set_attr("type", std::string(to_string(e.type)));
  err.add(xml::Element(std::string(to_string(e.condition)), std::string(ns::kStanzas)));
  if (!e.text.empty()) err.add(xml::Element("text", std::string(ns::kStanzas))).set_text(e.text);
  if (e.app != AppCondition::kNone)
    err.add(xml::Element(std::string(to_string(e.app)), std::string(ns::kRpsync)));
  return err;
}

std::optional<StanzaError> parse_stanza_error(const xml::Element& error) {
  if (error.name() != "error") return std::nullopt;
  StanzaError out;
  auto type = error.attr("type");
  if (!type) return std::nullopt;
  auto t = error_type_from(*type);
  if (!t) return std::nullopt;
  out.type = *t;
  bool have_condition = false;
  for (const auto& c : error.children()) {
    if (c.ns() == ns::kStanzas) {
      if (c.name() == "text") {
        out.text = c.text();
      } else if (auto cond = condition_from(c.name()); cond && !have_condition) {
        out.condition = *cond;
        have_condition = true;
      }
    } else if (c.ns() == ns::kRpsync) {
      if (auto app = app_condition_from(c.name())) out.app = *app;
    }
  }
  if (!have_condition) return std::nullopt;
  return out;
}

}  // namespace rpsync::proto
