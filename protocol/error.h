// SPDX-License-Identifier: MIT
// Stanza errors as values (RFC 6120 §8.3) and the rpsync application conditions
// (spec: "Error Handling"). Parsers return Result<T>: a value or the StanzaError
// to answer with.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "status.h"
#include "xml.h"

namespace rpsync::proto {

enum class ErrorType { kCancel, kContinue, kModify, kAuth, kWait };

enum class Condition {
  kBadRequest,
  kConflict,
  kFeatureNotImplemented,
  kForbidden,
  kInternalServerError,
  kItemNotFound,
  kNotAcceptable,
  kNotAllowed,
  kNotAuthorized,
  kPolicyViolation,
  kRecipientUnavailable,
  kRemoteServerNotFound,
  kRemoteServerTimeout,
  kResourceConstraint,
  kServiceUnavailable,
  kUndefinedCondition,
  kUnexpectedRequest,
};

// rpsync application-specific conditions (children of <error/> in urn:xmpp:rpsync:0).
enum class AppCondition {
  kNone,
  kUnknownKey,
  kExpired,
  kContinuityLost,
  kTooLarge,
  kNotEnabled,
  kOutOfOrder,
  kNotReady,
  kRateLimited,
  kStanzaTooBig,
  kBusy,  // too many requests in flight across all users
};

struct StanzaError {
  ErrorType type = ErrorType::kCancel;
  Condition condition = Condition::kUndefinedCondition;
  AppCondition app = AppCondition::kNone;
  std::string text;
  friend bool operator==(const StanzaError&, const StanzaError&) = default;
};

// The error the spec prescribes for an application condition (type and stanza
// condition fixed by the spec's table).
StanzaError make_error(AppCondition app, std::string text = {});
StanzaError bad_request(std::string text);
// Where the component answers a stanza after an I/O failure (store, feed): every failed
// Status is the spec's not-ready (wait, retry later), its message the error's text.
StanzaError to_stanza_error(const Status& status);

std::string_view to_string(ErrorType t);
std::string_view to_string(Condition c);
std::string_view to_string(AppCondition c);  // "" for kNone
std::optional<ErrorType> error_type_from(std::string_view s);
std::optional<Condition> condition_from(std::string_view s);
std::optional<AppCondition> app_condition_from(std::string_view s);

// <error type='..'><condition/><text/>?<app/>?</error>, namespace of the enclosing stanza
// given by `stanza_ns` (jabber:client or jabber:component:accept).
xml::Element to_xml(const StanzaError& e, std::string_view stanza_ns);
// Parses an <error/> element (any stanza namespace). Unknown app conditions are ignored.
std::optional<StanzaError> parse_stanza_error(const xml::Element& error);

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(StanzaError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const StanzaError& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, StanzaError> v_;
};

}  // namespace rpsync::proto
