// SPDX-License-Identifier: MIT
// Reads the rpsync XEP (xep_draft/rpsync.xml) for the spec tests: its examples, tables
// and schema text. The document is parsed with libxml2 so that its entities (xep.ent)
// are expanded exactly as a renderer sees them. Test-only code.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rpsync::xeptest {

struct Example {
  int number = 0;        // 1-based, in document order (as rendered: "Example N")
  std::string caption;
  std::string text;      // the CDATA content: one or more stanzas
};

// Rows of a <table>, header rows (<th>) excluded; each row is its cells' text.
using Table = std::vector<std::vector<std::string>>;

class XepDocument {
 public:
  // Loads `path`; on failure ok() is false and error() says why.
  explicit XepDocument(const std::string& path);
  ~XepDocument();
  XepDocument(const XepDocument&) = delete;
  XepDocument& operator=(const XepDocument&) = delete;

  bool ok() const { return doc_ != nullptr; }
  const std::string& error() const { return error_; }

  std::vector<Example> examples() const;
  std::optional<Example> example(const std::string& caption) const;
  std::optional<Table> table(const std::string& caption) const;
  // Text of the <code/> blocks of the section whose anchor is `anchor`.
  std::vector<std::string> code_in_section(const std::string& anchor) const;

 private:
  void* doc_ = nullptr;  // xmlDocPtr; void* keeps libxml2 out of this header
  std::string error_;
};

// Wraps example text in <root xmlns='jabber:client'> ... </root>: the stanzas of an example
// are written without a namespace, as they appear inside a client stream.
std::string wrap_in_client_stream(const std::string& example_text);

// Lowercase hex of bytes.
std::string hex(const std::string& bytes);

// Text with leading and trailing whitespace removed.
std::string trim(const std::string& s);

// Path of the XEP given to the test binary at build time.
std::string xep_path();

}  // namespace rpsync::xeptest
