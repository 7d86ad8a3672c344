// SPDX-License-Identifier: MIT
// Minimal namespace-aware XML element tree and an expat-based streaming parser.
//
// This is the only XML layer of rpsync: the protocol elements (protocol/), the
// component's XEP-0114 stream (plugin/xmpp) and the spec tests all use it.
// Mixed content is not kept in order: an element holds its character data as one
// string and its child elements as a list, which is all XMPP needs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace rpsync::xml {

inline constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";

// An attribute. `ns` is empty for ordinary (unqualified) attributes; `xml:lang` is
// {kXmlNs, "lang"}. Namespace declarations are never stored as attributes.
struct Attribute {
  std::string ns;
  std::string name;
  std::string value;
  friend bool operator==(const Attribute&, const Attribute&) = default;
};

class Element {
 public:
  Element() = default;
  explicit Element(std::string name, std::string ns = {})
      : name_(std::move(name)), ns_(std::move(ns)) {}

  const std::string& name() const { return name_; }
  const std::string& ns() const { return ns_; }
  bool is(std::string_view name, std::string_view ns) const { return name_ == name && ns_ == ns; }

  // Unqualified attribute lookup; nullopt when absent.
  std::optional<std::string_view> attr(std::string_view name) const;
  std::optional<std::string_view> attr(std::string_view ns, std::string_view name) const;
  // Sets (or replaces) an unqualified attribute.
  Element& set_attr(std::string_view name, std::string value);
  Element& set_attr(std::string_view ns, std::string_view name, std::string value);
  void remove_attr(std::string_view name);
  const std::vector<Attribute>& attrs() const { return attrs_; }

  const std::string& text() const { return text_; }
  Element& set_text(std::string text) {
    text_ = std::move(text);
    return *this;
  }
  void append_text(std::string_view text) { text_.append(text); }

  const std::vector<Element>& children() const { return children_; }
  std::vector<Element>& children() { return children_; }
  // Appends a child and returns a reference to it (valid until the next append).
  Element& add(Element child);
  // First child with this name and namespace (ns empty = the parent's namespace), or null.
  const Element* child(std::string_view name, std::string_view ns = {}) const;
  Element* child(std::string_view name, std::string_view ns = {});
  // Text of the first such child, nullopt when there is none.
  std::optional<std::string_view> child_text(std::string_view name, std::string_view ns = {}) const;

 private:
  std::string name_;
  std::string ns_;
  std::vector<Attribute> attrs_;
  std::string text_;
  std::vector<Element> children_;
};

// Serialises `e`. A default-namespace declaration is written wherever an element's
// namespace differs from its parent's; `inherited_ns` is the namespace in scope
// around `e` (e.g. "jabber:component:accept" for a stanza written into a stream).
std::string to_string(const Element& e, std::string_view inherited_ns = {});
void append_to(std::string& out, const Element& e, std::string_view inherited_ns = {});

// Escapes character data / attribute values (both quotes escaped).
void append_escaped(std::string& out, std::string_view text);
std::string escape(std::string_view text);

// Structural equality after normalisation: attributes compared as a set, character
// data compared with surrounding whitespace trimmed, children compared in order.
bool equivalent(const Element& a, const Element& b);

struct ParseError {
  std::string message;
};

// Limits applied while parsing. For parse() a violation is a parse error, never a
// crash. For a StreamParser every limit is per depth-1 element (stanza): an element
// over any of them is skipped at its depth-1 boundary (see StreamParser), only
// malformed XML or a single token over max_token_bytes ends the stream.
struct ParseLimits {
  std::size_t max_element_bytes = 64 * 1024;  // raw bytes of one top-level element
  // Stream only: the byte limit of a depth-1 <iq type='result|error'/> (answers such as a
  // privileged roster result); 0 = max_element_bytes.
  std::size_t max_result_bytes = 0;
  std::size_t max_depth = 32;                 // nesting below the document/stream root
  std::size_t max_attributes = 64;            // per element
  // Stream only: bytes expat may hold for one unfinished token (a start tag with its
  // attribute values; character data is reported as it arrives). Over it the stream
  // fails: no peer relays such a token. 0 = the larger of the two byte limits above.
  std::size_t max_token_bytes = 0;

  std::size_t result_bytes() const {
    return max_result_bytes ? max_result_bytes : max_element_bytes;
  }
  std::size_t token_bytes() const {
    return max_token_bytes ? max_token_bytes : std::max(max_element_bytes, result_bytes());
  }
};

// Why a StreamParser skipped a depth-1 element.
enum class SkipReason {
  kBytes,       // more raw bytes than max_element_bytes (max_result_bytes for results)
  kDepth,       // nesting deeper than max_depth
  kAttributes,  // an element with more than max_attributes attributes
};
std::string_view to_string(SkipReason r);

// Parses one complete document whose root is returned. Rejects DTDs, entity
// declarations, processing instructions and comments (RFC 6120 §11.1).
std::variant<Element, ParseError> parse(std::string_view document, const ParseLimits& limits = {});

// Incremental parser for an XMPP stream: the root (<stream:stream>) is reported on
// open, each depth-1 element when complete, and the root's end on close.
// A depth-1 element over any limit (bytes, depth, attributes) does not break the stream:
// expat keeps parsing it, the tree is no longer built, and when its depth-1 end tag
// arrives on_skipped receives its head (name, namespace, attributes; no children) and
// the reason, so the caller can answer it with a stanza error or account for a lost
// presence. When the head itself has more than max_attributes attributes, only
// from/to/id/type/xml:lang are kept. Only a single token larger than max_token_bytes,
// or malformed XML, is a stream error.
// Not thread-safe; callbacks run inside feed() and must not call reset(). After an
// error, feed() does nothing until reset().
class StreamParser {
 public:
  struct Callbacks {
    std::function<void(const Element& root)> on_open;  // root has attributes, no children
    std::function<void(Element stanza)> on_element;
    std::function<void()> on_close;
    std::function<void(const ParseError&)> on_error;
    // Optional; a skipped element is dropped silently when unset.
    std::function<void(Element head, SkipReason why)> on_skipped;
  };

  StreamParser(Callbacks callbacks, ParseLimits limits = {});
  ~StreamParser();
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  // Feeds bytes. Returns false once the stream is in error.
  bool feed(std::string_view bytes);
  // Starts a new document (used after a stream restart or a reconnect).
  void reset();
  bool failed() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rpsync::xml
