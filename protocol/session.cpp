// SPDX-License-Identifier: MIT
#include "protocol/session.h"

#include "protocol/detail.h"

namespace rpsync::proto {
namespace {

xml::Element element(std::string_view name) {
  return xml::Element(std::string(name), std::string(ns::kRpsync));
}

// Elements of this file carry attributes only.
std::optional<StanzaError> expect_empty(const xml::Element& e, std::string_view name) {
  if (auto err = detail::expect(e, name)) return err;
  if (!e.children().empty() || !detail::blank(e.text()))
    return bad_request("<" + std::string(name) + "/> must be empty");
  return std::nullopt;
}

}  // namespace

xml::Element to_xml(const Enable& e) {
  auto x = element("enable");
  x.set_attr("stream", e.stream);
  return x;
}

xml::Element to_xml(const Enabled& e) {
  auto x = element("enabled");
  x.set_attr("lifetime", std::to_string(e.lifetime));
  detail::put_digest(x, e.state);
  return x;
}

xml::Element to_xml(const Checkpoint& e) {
  auto x = element("checkpoint");
  x.set_attr("stream", e.stream);
  x.set_attr("prev", e.prev);
  return x;
}

xml::Element to_xml(const Checkpointed& e) {
  auto x = element("checkpointed");
  detail::put_digest(x, e.state);
  return x;
}

xml::Element to_xml(const Disable& e) {
  auto x = element("disable");
  x.set_attr("stream", e.stream);
  return x;
}

Result<Enable> parse_enable(const xml::Element& e, const Limits& limits) {
  if (auto err = expect_empty(e, "enable")) return *err;
  auto stream = detail::required(e, "stream", limits.max_stream_id);
  if (!stream) return stream.error();
  return Enable{std::move(stream).value()};
}

Result<Enabled> parse_enabled(const xml::Element& e, const Limits&) {
  if (auto err = expect_empty(e, "enabled")) return *err;
  auto lifetime = detail::required_u32(e, "lifetime");
  if (!lifetime) return lifetime.error();
  auto state = detail::required_digest(e);
  if (!state) return state.error();
  return Enabled{*lifetime, *state};
}

Result<Checkpoint> parse_checkpoint(const xml::Element& e, const Limits& limits) {
  if (auto err = expect_empty(e, "checkpoint")) return *err;
  auto stream = detail::required(e, "stream", limits.max_stream_id);
  if (!stream) return stream.error();
  auto prev = detail::required(e, "prev", limits.max_stanza_id);
  if (!prev) return prev.error();
  return Checkpoint{std::move(stream).value(), std::move(prev).value()};
}

Result<Checkpointed> parse_checkpointed(const xml::Element& e, const Limits&) {
  if (auto err = expect_empty(e, "checkpointed")) return *err;
  auto state = detail::required_digest(e);
  if (!state) return state.error();
  return Checkpointed{*state};
}

Result<Disable> parse_disable(const xml::Element& e, const Limits& limits) {
  if (auto err = expect_empty(e, "disable")) return *err;
  auto stream = detail::required(e, "stream", limits.max_stream_id);
  if (!stream) return stream.error();
  return Disable{std::move(stream).value()};
}

}  // namespace rpsync::proto
