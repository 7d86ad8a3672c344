// SPDX-License-Identifier: MIT
// Test helper: parses an XML document with gloox's own parser, as gloox would see it.
#pragma once

#include <gloox/parser.h>
#include <gloox/tag.h>
#include <gloox/taghandler.h>

#include <memory>
#include <string>

namespace rpsync::client::testing {

inline std::unique_ptr<gloox::Tag> gloox_parse(std::string xml) {
  struct Collector : gloox::TagHandler {
    std::unique_ptr<gloox::Tag> tag;
    void handleTag(gloox::Tag* t) override {
      if (!tag) tag.reset(t->clone());
    }
  } collector;
  gloox::Parser parser(&collector);
  parser.feed(xml);
  return std::move(collector.tag);
}

}  // namespace rpsync::client::testing
