// SPDX-License-Identifier: MIT
#include "protocol/xml.h"

#include <expat.h>

#include <algorithm>
#include <cstdint>

namespace rpsync::xml {
namespace {

constexpr char kNsSep = '\x01';

// Splits expat's "uri<sep>local" into {uri, local}; unqualified names have no uri.
std::pair<std::string, std::string> split_name(const char* raw) {
  std::string_view s(raw);
  auto pos = s.find(kNsSep);
  if (pos == std::string_view::npos) return {std::string(), std::string(s)};
  return {std::string(s.substr(0, pos)), std::string(s.substr(pos + 1))};
}

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

// ---- Element ---------------------------------------------------------------

std::optional<std::string_view> Element::attr(std::string_view name) const {
  return attr(std::string_view{}, name);
}

std::optional<std::string_view> Element::attr(std::string_view ns, std::string_view name) const {
  for (const auto& a : attrs_)
    if (a.name == name && a.ns == ns) return std::string_view(a.value);
  return std::nullopt;
}

Element& Element::set_attr(std::string_view name, std::string value) {
  return set_attr(std::string_view{}, name, std::move(value));
}

Element& Element::set_attr(std::string_view ns, std::string_view name, std::string value) {
  for (auto& a : attrs_) {
    if (a.name == name && a.ns == ns) {
      a.value = std::move(value);
      return *this;
    }
  }
  attrs_.push_back(Attribute{std::string(ns), std::string(name), std::move(value)});
  return *this;
}

void Element::remove_attr(std::string_view name) {
  std::erase_if(attrs_, [&](const Attribute& a) { return a.ns.empty() && a.name == name; });
}

Element& Element::add(Element child) {
  children_.push_back(std::move(child));
  return children_.back();
}

const Element* Element::child(std::string_view name, std::string_view ns) const {
  std::string_view want = ns.empty() ? std::string_view(ns_) : ns;
  for (const auto& c : children_)
    if (c.name_ == name && c.ns_ == want) return &c;
  return nullptr;
}

Element* Element::child(std::string_view name, std::string_view ns) {
  return const_cast<Element*>(std::as_const(*this).child(name, ns));
}

std::optional<std::string_view> Element::child_text(std::string_view name,
                                                    std::string_view ns) const {
  const Element* c = child(name, ns);
  if (!c) return std::nullopt;
  return std::string_view(c->text());
}

// ---- Serialisation ---------------------------------------------------------

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
}

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_escaped(out, text);
  return out;
}

void append_to(std::string& out, const Element& e, std::string_view inherited_ns) {
  out += '<';
  out += e.name();
  if (e.ns() != inherited_ns) {
    out += " xmlns='";
    append_escaped(out, e.ns());
    out += '\'';
  }
  int prefix_no = 0;
  for (const auto& a : e.attrs()) {
    out += ' ';
    if (a.ns.empty()) {
      out += a.name;
    } else if (a.ns == kXmlNs) {
      out += "xml:";
      out += a.name;
    } else {
      // Rare in XMPP: a qualified attribute gets a generated prefix on this element.
      std::string prefix = "a" + std::to_string(prefix_no++);
      out += "xmlns:" + prefix + "='";
      append_escaped(out, a.ns);
      out += "' " + prefix + ":" + a.name;
    }
    out += "='";
    append_escaped(out, a.value);
    out += '\'';
  }
  if (e.text().empty() && e.children().empty()) {
    out += "/>";
    return;
  }
  out += '>';
  append_escaped(out, e.text());
  for (const auto& c : e.children()) append_to(out, c, e.ns());
  out += "</";
  out += e.name();
  out += '>';
}

std::string to_string(const Element& e, std::string_view inherited_ns) {
  std::string out;
  append_to(out, e, inherited_ns);
  return out;
}

bool equivalent(const Element& a, const Element& b) {
  if (a.name() != b.name() || a.ns() != b.ns()) return false;
  if (a.attrs().size() != b.attrs().size()) return false;
  for (const auto& at : a.attrs()) {
    auto v = b.attr(at.ns, at.name);
    if (!v || *v != at.value) return false;
  }
  if (trim(a.text()) != trim(b.text())) return false;
  if (a.children().size() != b.children().size()) return false;
  for (std::size_t i = 0; i < a.children().size(); ++i)
    if (!equivalent(a.children()[i], b.children()[i])) return false;
  return true;
}

// ---- Parsing ---------------------------------------------------------------

std::string_view to_string(SkipReason r) {
  switch (r) {
    case SkipReason::kBytes: return "bytes";
    case SkipReason::kDepth: return "depth";
    case SkipReason::kAttributes: return "attributes";
  }
  return "unknown";
}

// Shared expat driver. In stream mode the root is reported on open and each
// depth-1 element when it closes; in document mode the root itself is the result.
struct StreamParser::Impl {
  Impl(Callbacks cb, ParseLimits lim, bool stream_mode)
      : callbacks(std::move(cb)), limits(lim), stream(stream_mode) {
    create();
  }
  ~Impl() {
    if (parser) XML_ParserFree(parser);
  }

  void create() {
    if (parser) XML_ParserFree(parser);
    parser = XML_ParserCreateNS(nullptr, kNsSep);
    XML_SetUserData(parser, this);
    XML_SetElementHandler(parser, &Impl::on_start, &Impl::on_end);
    XML_SetCharacterDataHandler(parser, &Impl::on_text);
    XML_SetStartDoctypeDeclHandler(parser, &Impl::on_doctype);
    XML_SetEntityDeclHandler(parser, &Impl::on_entity);
    XML_SetProcessingInstructionHandler(parser, &Impl::on_pi);
    XML_SetCommentHandler(parser, &Impl::on_comment);
    // Later Debian 12 point releases of expat carry the upstream "reparse deferral"
    // backport (detected at configure time, absent from 2.5.0-1+deb12u1): it holds back
    // a complete token until more bytes arrive, so a stanza could sit unprocessed on an
    // idle stream. The byte limit in feed() already bounds large tokens.
#ifdef RPSYNC_HAVE_XML_REPARSE_DEFERRAL
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
#endif
    stack.clear();
    depth = 0;
    fed = 0;
    last_event = 0;
    element_start = 0;
    element_limit = limits.max_element_bytes;
    skipping = false;
    error.reset();
    done_root.reset();
  }

  void fail(std::string message) {
    if (error) return;
    error = ParseError{std::move(message)};
    XML_StopParser(parser, XML_FALSE);
  }

  // Starts skipping the current depth-1 element; `head` is what on_skipped gets.
  void skip(SkipReason why, Element head) {
    skipping = true;
    skip_reason = why;
    skipped_head = std::move(head);
    stack.clear();
  }

  // A head without children: the depth-1 element's name, namespace and attributes.
  static Element head_of(const Element& e) {
    Element head(e.name(), e.ns());
    for (const auto& a : e.attrs()) head.set_attr(a.ns, a.name, a.value);
    return head;
  }

  // Bytes of the current depth-1 element so far; past its limit it is skipped.
  void check_element_size() {
    if (!stream || skipping || stack.empty()) return;
    if (event_end() - element_start <= element_limit) return;
    skip(SkipReason::kBytes, head_of(stack.front()));
  }

  // Byte limit of a depth-1 element, from its start tag: results may be larger.
  std::size_t limit_for(const Element& e) const {
    auto type = e.attr("type");
    if (e.name() == "iq" && type && (*type == "result" || *type == "error"))
      return limits.result_bytes();
    return limits.max_element_bytes;
  }

  // The element of a start tag, or nullopt after fail()/skip() for too many attributes.
  std::optional<Element> build(const char* name, const char** atts) {
    auto [ns, local] = split_name(name);
    Element e(std::move(local), std::move(ns));
    std::size_t count = 0;
    for (const char** a = atts; *a; a += 2) ++count;
    const bool keep_all = count <= limits.max_attributes;
    for (const char** a = atts; *a; a += 2) {
      auto [ans, alocal] = split_name(a[0]);
      if (keep_all || is_routing_attr(ans, alocal)) e.set_attr(ans, alocal, a[1]);
    }
    if (keep_all) return e;
    if (!stream || depth == 0) {
      fail("too many attributes");
    } else if (depth == 1) {
      skip(SkipReason::kAttributes, std::move(e));
    } else {
      skip(SkipReason::kAttributes, head_of(stack.front()));
    }
    return std::nullopt;
  }

  static bool is_routing_attr(std::string_view ns, std::string_view name) {
    if (ns == kXmlNs) return name == "lang";
    return ns.empty() && (name == "from" || name == "to" || name == "id" || name == "type");
  }

  static void on_start(void* ud, const char* name, const char** atts) {
    auto* self = static_cast<Impl*>(ud);
    if (self->error) return;
    self->last_event = self->position();
    if (self->skipping) {
      ++self->depth;
      return;
    }
    self->start(name, atts);
  }

  void start(const char* name, const char** atts) {
    if (depth > limits.max_depth) {
      if (!stream || stack.empty()) return fail("element nesting too deep");
      skip(SkipReason::kDepth, head_of(stack.front()));
      ++depth;
      return;
    }
    if (stream && depth == 1) element_start = position();
    std::optional<Element> e = build(name, atts);
    if (!e) {
      if (skipping) ++depth;
      return;
    }
    if (stream && depth == 0) {
      ++depth;
      if (callbacks.on_open) callbacks.on_open(*e);
      return;
    }
    if (stream && depth == 1) element_limit = limit_for(*e);
    stack.push_back(std::move(*e));
    ++depth;
    check_element_size();
  }

  static void on_end(void* ud, const char*) {
    auto* self = static_cast<Impl*>(ud);
    if (self->error) return;
    self->last_event = self->position();
    --self->depth;
    if (self->stream && self->depth == 0) {
      if (self->callbacks.on_close) self->callbacks.on_close();
      return;
    }
    if (self->skipping) {
      if (self->depth == 1) {
        self->skipping = false;
        Element head = std::move(self->skipped_head);
        self->skipped_head = Element();
        if (self->callbacks.on_skipped) self->callbacks.on_skipped(std::move(head), self->skip_reason);
      }
      return;
    }
    Element done = std::move(self->stack.back());
    self->stack.pop_back();
    if (!self->stack.empty()) {
      self->stack.back().add(std::move(done));
      return;
    }
    if (self->stream) {
      if (self->callbacks.on_element) self->callbacks.on_element(std::move(done));
    } else {
      self->done_root = std::move(done);
    }
  }

  static void on_text(void* ud, const char* s, int len) {
    auto* self = static_cast<Impl*>(ud);
    if (self->error) return;
    self->last_event = self->position();
    if (self->skipping || self->stack.empty()) return;  // whitespace between stanzas too
    self->stack.back().append_text(std::string_view(s, static_cast<std::size_t>(len)));
    self->check_element_size();
  }

  static void on_doctype(void* ud, const char*, const char*, const char*, int) {
    static_cast<Impl*>(ud)->fail("DTDs are not allowed");
  }
  static void on_entity(void* ud, const char*, int, const char*, int, const char*, const char*,
                        const char*, const char*) {
    static_cast<Impl*>(ud)->fail("entity declarations are not allowed");
  }
  static void on_pi(void* ud, const char*, const char*) {
    static_cast<Impl*>(ud)->fail("processing instructions are not allowed");
  }
  static void on_comment(void* ud, const char*) {
    static_cast<Impl*>(ud)->fail("comments are not allowed");
  }

  // Byte index just past the current event (e.g. the end of a start tag).
  std::size_t event_end() const {
    int n = XML_GetCurrentByteCount(parser);
    return position() + (n > 0 ? static_cast<std::size_t>(n) : 0);
  }

  std::size_t position() const {
    auto idx = XML_GetCurrentByteIndex(parser);
    return idx < 0 ? fed : static_cast<std::size_t>(idx);
  }

  bool feed(std::string_view bytes, bool final) {
    if (error) return false;
    // Feed in bounded slices so the size limit is checked while a large element
    // is still arriving, not after expat has buffered all of it.
    constexpr std::size_t kSlice = 4096;
    std::size_t off = 0;
    do {
      std::size_t n = std::min(kSlice, bytes.size() - off);
      bool last = final && off + n == bytes.size();
      fed += n;
      if (XML_Parse(parser, bytes.data() + off, static_cast<int>(n), last ? XML_TRUE : XML_FALSE) ==
          XML_STATUS_ERROR) {
        if (!error) {
          error = ParseError{std::string(XML_ErrorString(XML_GetErrorCode(parser))) + " at line " +
                             std::to_string(XML_GetCurrentLineNumber(parser))};
        }
        break;
      }
      off += n;
      // Bytes expat holds without having reported them form one unfinished token.
      if (fed - last_event > limits.token_bytes() + kSlice) {
        error = ParseError{"a single XML token is larger than " +
                           std::to_string(limits.token_bytes()) + " bytes"};
        break;
      }
    } while (off < bytes.size());
    if (error) {
      if (callbacks.on_error) callbacks.on_error(*error);
      return false;
    }
    return true;
  }

  Callbacks callbacks;
  ParseLimits limits;
  bool stream;
  XML_Parser parser = nullptr;
  std::vector<Element> stack;
  std::size_t depth = 0;
  std::size_t fed = 0;       // bytes handed to expat so far
  std::size_t last_event = 0;     // byte index of the last parse event
  std::size_t element_start = 0;  // byte index where the current depth-1 element began
  std::size_t element_limit = 0;  // byte limit of the current depth-1 element
  bool skipping = false;          // the current depth-1 element is over a limit
  SkipReason skip_reason = SkipReason::kBytes;
  Element skipped_head;
  std::optional<ParseError> error;
  std::optional<Element> done_root;
};

StreamParser::StreamParser(Callbacks callbacks, ParseLimits limits)
    : impl_(std::make_unique<Impl>(std::move(callbacks), limits, true)) {}
StreamParser::~StreamParser() = default;

bool StreamParser::feed(std::string_view bytes) { return impl_->feed(bytes, false); }
void StreamParser::reset() { impl_->create(); }
bool StreamParser::failed() const { return impl_->error.has_value(); }

std::variant<Element, ParseError> parse(std::string_view document, const ParseLimits& limits) {
  if (document.size() > limits.max_element_bytes)
    return ParseError{"document larger than " + std::to_string(limits.max_element_bytes) +
                      " bytes"};
  StreamParser::Impl impl({}, limits, false);
  if (!impl.feed(document, true)) return *impl.error;
  if (!impl.done_root) return ParseError{"no root element"};
  return std::move(*impl.done_root);
}

}  // namespace rpsync::xml
