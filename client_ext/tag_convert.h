// SPDX-License-Identifier: MIT
// The edge between gloox's DOM (gloox::Tag) and rpsync's (rpsync::xml::Element).
// The wire format lives in protocol/; this file only copies trees across.
#pragma once

#include <memory>

#include "../protocol/xml.h"

namespace gloox {
class Tag;
}

namespace rpsync::client {

// Deep copy of `tag` with every element's namespace resolved (inherited namespaces and
// prefixes included). Namespace declarations are not copied as attributes;
// `xml:lang` becomes the attribute {xml::kXmlNs, "lang"}.
xml::Element to_element(const gloox::Tag& tag);

// Deep copy of `e`. The root carries an xmlns declaration when its namespace is not
// empty; children only where their namespace differs from their parent's.
// The caller owns the result (gloox takes ownership when the Tag is handed to it).
std::unique_ptr<gloox::Tag> to_tag(const xml::Element& e);

}  // namespace rpsync::client
