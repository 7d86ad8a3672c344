// SPDX-License-Identifier: MIT
#include "protocol/sync.h"

#include "protocol/detail.h"

namespace rpsync::proto {

xml::Element to_xml(const Sync& s) {
  xml::Element x("sync", std::string(ns::kRpsync));
  x.set_attr("stream", s.stream);
  auto& key = x.add(xml::Element("key", std::string(ns::kRpsync)));
  key.set_attr("stream", s.key.stream);
  key.set_attr("resource", s.key.resource);
  key.set_attr("last", s.key.last);
  return x;
}

Result<Sync> parse_sync(const xml::Element& e, const Limits& limits) {
  if (auto err = detail::expect(e, "sync")) return *err;
  auto stream = detail::required(e, "stream", limits.max_stream_id);
  if (!stream) return stream.error();
  const xml::Element* key = nullptr;
  for (const auto& c : e.children()) {
    if (c.ns() != ns::kRpsync) continue;  // foreign extensions are ignored
    if (c.name() != "key" || key) return bad_request("<sync/> takes exactly one <key/>");
    key = &c;
  }
  if (!key) return bad_request("<sync/> needs a <key/>");
  if (!key->children().empty() || !detail::blank(key->text()))
    return bad_request("<key/> must be empty");
  auto old_stream = detail::required(*key, "stream", limits.max_stream_id);
  if (!old_stream) return old_stream.error();
  auto resource = detail::required(*key, "resource", limits.max_resource);
  if (!resource) return resource.error();
  auto last = detail::required(*key, "last", limits.max_stanza_id);
  if (!last) return last.error();
  return Sync{std::move(stream).value(),
              SyncKey{std::move(old_stream).value(), std::move(resource).value(),
                      std::move(last).value()}};
}

}  // namespace rpsync::proto
