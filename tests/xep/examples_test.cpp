// SPDX-License-Identifier: MIT
// Every example of the rpsync XEP is a test vector (xep_draft/README.md):
//  - it is well-formed XML for the protocol library's parser;
//  - every rpsync element in it is valid against xep_draft/rpsync.xsd, except requests
//    the example itself answers with bad-request / feature-not-implemented, which must be
//    invalid and must be rejected by proto::parse_request with that error;
//  - every rpsync payload is parsed by its proto parser and re-serialised by proto::to_xml
//    into an equivalent element; every <error/> likewise;
//  - counts and digests tell one consistent story starting from the worked example state.
#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "protocol/delta.h"
#include "protocol/error.h"
#include "protocol/ns.h"
#include "protocol/payload.h"
#include "protocol/presence.h"
#include "protocol/session.h"
#include "protocol/state.h"
#include "protocol/xml.h"
#include "tests/xep/xep_document.h"

namespace rpsync::xeptest {
namespace {

// A broken extractor must not pass vacuously. The draft (0.0.2) has 29 examples with 17
// requests (2 of them malformed on purpose), 8 rpsync results, 12 errors, 1 <synced/>
// marker and 35 valid outermost rpsync elements; these minimums only grow when examples
// are added.
constexpr std::size_t kMinExamples = 29;
constexpr std::size_t kMinRequests = 15;
constexpr std::size_t kMinResults = 8;
constexpr std::size_t kMinValidated = 35;

constexpr const char* kWorkedStateCaption = "Contact presences forming the worked example state";
constexpr const char* kWorkedDeltaCaption = "The worked example state as delta items";

struct ParsedExample {
  Example ex;
  xml::Element root;  // <root xmlns='jabber:client'> holding the example's stanzas
};

const XepDocument& document() {
  static const XepDocument doc(xep_path());
  return doc;
}

// Examples parsed by the protocol library's XML parser; a parse failure is a test failure.
std::vector<ParsedExample> parsed_examples() {
  std::vector<ParsedExample> out;
  for (auto& ex : document().examples()) {
    auto r = xml::parse(wrap_in_client_stream(ex.text));
    if (auto* err = std::get_if<xml::ParseError>(&r)) {
      ADD_FAILURE() << "Example " << ex.number << " '" << ex.caption
                    << "' does not parse: " << err->message;
      continue;
    }
    out.push_back({ex, std::get<xml::Element>(std::move(r))});
  }
  return out;
}

std::string trace(const Example& ex) {
  return "Example " + std::to_string(ex.number) + ": " + ex.caption;
}

const xml::Element* rpsync_child(const xml::Element& e) {
  for (const auto& c : e.children())
    if (c.ns() == ns::kRpsync) return &c;
  return nullptr;
}

const xml::Element* stanza_child(const xml::Element& iq, std::string_view name) {
  return iq.child(name, ns::kClient);
}

bool is_request(const xml::Element& iq) {
  auto t = iq.attr("type");
  return iq.is("iq", ns::kClient) && (t == "set" || t == "get");
}

// The result or error with the same id as `request` in the same example.
const xml::Element* answer_to(const xml::Element& root, const xml::Element& request) {
  for (const auto& s : root.children()) {
    auto t = s.attr("type");
    if (s.is("iq", ns::kClient) && (t == "result" || t == "error") &&
        s.attr("id") == request.attr("id"))
      return &s;
  }
  return nullptr;
}

// The error a malformed request is answered with in the example, if it is one of the
// conditions the payload parser itself produces (bad-request, feature-not-implemented).
std::optional<proto::StanzaError> expected_parse_error(const xml::Element& root,
                                                       const xml::Element& request) {
  const xml::Element* answer = answer_to(root, request);
  if (!answer || answer->attr("type") != "error") return std::nullopt;
  const xml::Element* error = stanza_child(*answer, "error");
  if (!error) return std::nullopt;
  auto e = proto::parse_stanza_error(*error);
  if (!e) return std::nullopt;
  if (e->condition != proto::Condition::kBadRequest &&
      e->condition != proto::Condition::kFeatureNotImplemented)
    return std::nullopt;
  return e;
}

// Re-serialises a result payload through its parser; nullopt (with a failure) if it does
// not parse.
std::optional<xml::Element> reserialise_result(const xml::Element& p) {
  auto fail = [&](const proto::StanzaError& e) -> std::optional<xml::Element> {
    ADD_FAILURE() << "<" << p.name() << "/> does not parse: " << e.text;
    return std::nullopt;
  };
  if (p.name() == "enabled") {
    auto r = proto::parse_enabled(p);
    return r ? std::optional(proto::to_xml(*r)) : fail(r.error());
  }
  if (p.name() == "checkpointed") {
    auto r = proto::parse_checkpointed(p);
    return r ? std::optional(proto::to_xml(*r)) : fail(r.error());
  }
  if (p.name() == "delta") {
    auto r = proto::parse_delta(p);
    return r ? std::optional(proto::to_xml(*r)) : fail(r.error());
  }
  ADD_FAILURE() << "<" << p.name() << "/> is not an rpsync result element";
  return std::nullopt;
}

proto::PresenceState worked_example_state() {
  proto::PresenceState s;
  auto ex = document().example(kWorkedStateCaption);
  if (!ex) {
    ADD_FAILURE() << "no example captioned '" << kWorkedStateCaption << "'";
    return s;
  }
  auto r = xml::parse(wrap_in_client_stream(ex->text));
  if (!std::holds_alternative<xml::Element>(r)) return s;
  for (const auto& p : std::get<xml::Element>(r).children())
    if (p.is("presence", ns::kClient))
      s.emplace(std::string(p.attr("from").value_or("")), proto::fields_from_presence(p));
  return s;
}

TEST(XepExamples, DocumentLoadsAndHasEnoughExamples) {
  ASSERT_TRUE(document().ok()) << document().error();
  auto examples = document().examples();
  EXPECT_GE(examples.size(), kMinExamples);
  for (const auto& ex : examples) {
    EXPECT_FALSE(ex.caption.empty()) << trace(ex);
    EXPECT_FALSE(trim(ex.text).empty()) << trace(ex);
  }
}

TEST(XepExamples, EveryExampleParsesAndHoldsOnlyCompleteStanzas) {
  auto parsed = parsed_examples();
  EXPECT_EQ(parsed.size(), document().examples().size());
  for (const auto& [ex, root] : parsed) {
    SCOPED_TRACE(trace(ex));
    EXPECT_FALSE(root.children().empty());
    EXPECT_TRUE(trim(root.text()).empty()) << "text outside stanzas: " << root.text();
    for (const auto& s : root.children()) {
      EXPECT_TRUE(s.is("iq", ns::kClient) || s.is("presence", ns::kClient) ||
                  s.is("message", ns::kClient))
          << "<" << s.name() << "/> in '" << s.ns() << "' is not a jabber:client stanza";
      if (s.name() != "iq") continue;
      // Complete IQs: addressed both ways, typed and identified.
      for (const char* a : {"from", "to", "type", "id"})
        EXPECT_TRUE(s.attr(a).has_value()) << "<iq/> without '" << a << "'";
    }
  }
}

TEST(XepExamples, RequestsRoundTripThroughParseRequest) {
  std::size_t ok = 0, rejected = 0;
  for (const auto& [ex, root] : parsed_examples()) {
    SCOPED_TRACE(trace(ex));
    for (const auto& iq : root.children()) {
      const xml::Element* payload = rpsync_child(iq);
      if (!is_request(iq) || !payload) continue;
      auto parsed = proto::parse_request(iq);
      if (auto want = expected_parse_error(root, iq)) {
        ASSERT_FALSE(parsed.ok()) << "<" << payload->name() << "/> should be rejected";
        EXPECT_EQ(parsed.error().condition, want->condition) << parsed.error().text;
        EXPECT_EQ(parsed.error().type, want->type);
        EXPECT_EQ(parsed.error().app, want->app);
        ++rejected;
        continue;
      }
      ASSERT_TRUE(parsed.ok()) << "<" << payload->name() << "/>: " << parsed.error().text;
      xml::Element again = std::visit([](const auto& r) { return proto::to_xml(r); }, *parsed);
      EXPECT_TRUE(xml::equivalent(again, *payload))
          << "example: " << xml::to_string(*payload) << "\nto_xml:  " << xml::to_string(again);
      ++ok;
    }
  }
  EXPECT_GE(ok, kMinRequests);
  EXPECT_EQ(rejected, 2u);  // the malformed-request and unknown-element examples
}

// The <synced/> marker ("Skipping the Presence Flood") has no protocol/ parser: it is
// checked here. It is an empty child of an initial presence (no 'to', no 'type'), and no
// other rpsync element appears in a presence (what contacts receive carries none).
TEST(XepExamples, MarkerOnlyAsEmptyChildOfInitialPresence) {
  std::size_t markers = 0;
  for (const auto& [ex, root] : parsed_examples()) {
    SCOPED_TRACE(trace(ex));
    for (const auto& s : root.children()) {
      if (!s.is("presence", ns::kClient)) continue;
      for (const auto& c : s.children()) {
        if (c.ns() != ns::kRpsync) continue;
        EXPECT_EQ(c.name(), "synced") << "<" << c.name() << "/> in a presence";
        EXPECT_TRUE(c.attrs().empty() && c.children().empty() && trim(c.text()).empty())
            << "marker not empty: " << xml::to_string(c);
        EXPECT_FALSE(s.attr("to").has_value()) << "marker in a directed presence";
        EXPECT_FALSE(s.attr("type").has_value()) << "marker in a typed presence";
        ++markers;
      }
    }
  }
  EXPECT_GE(markers, 1u);
}

TEST(XepExamples, IrregularPresenceFieldsFollowTheFieldRules) {
  auto ex = document().example("Presence with irregular fields (test vector)");
  ASSERT_TRUE(ex) << "no example captioned 'Presence with irregular fields (test vector)'";
  std::map<std::string, proto::PresenceFields> got;
  for (const auto& [e, root] : parsed_examples()) {
    if (e.caption != ex->caption) continue;
    for (const auto& p : root.children())
      got[std::string(p.attr("from").value_or(""))] = proto::fields_from_presence(p);
  }
  ASSERT_EQ(got.size(), 3u);
  const auto& street = got["mercutio@example.test/street"];
  EXPECT_EQ(street.show, proto::Show::kAway);
  EXPECT_EQ(street.status, "first");
  EXPECT_EQ(street.priority, 7);
  EXPECT_EQ(street.idle_since, "");
  EXPECT_EQ(got["mercutio@example.test/tavern"].priority, 0);
  EXPECT_EQ(got["mercutio@example.test/tavern"].idle_since, "");
  EXPECT_EQ(got["mercutio@example.test/garden"].priority, 127);
}

TEST(XepExamples, LongStatusIsCutOnACharacterBoundary) {
  auto ex = document().example("Presence with a long status (test vector)");
  ASSERT_TRUE(ex) << "no example captioned 'Presence with a long status (test vector)'";
  std::size_t seen = 0;
  for (const auto& [e, root] : parsed_examples()) {
    if (e.caption != ex->caption) continue;
    for (const auto& p : root.children()) {
      ASSERT_EQ(p.child_text("status").value_or("").size(), 1026u) << "the vector changed";
      EXPECT_EQ(proto::fields_from_presence(p).status, std::string(1023, 'a'));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 1u);
}

TEST(XepExamples, ResultsRoundTripThroughTheirParsers) {
  std::size_t n = 0;
  for (const auto& [ex, root] : parsed_examples()) {
    SCOPED_TRACE(trace(ex));
    for (const auto& iq : root.children()) {
      if (!iq.is("iq", ns::kClient) || iq.attr("type") != "result") continue;
      const xml::Element* payload = rpsync_child(iq);
      if (!payload) continue;
      auto again = reserialise_result(*payload);
      if (!again) continue;
      EXPECT_TRUE(xml::equivalent(*again, *payload))
          << "example: " << xml::to_string(*payload) << "\nto_xml:  " << xml::to_string(*again);
      ++n;
    }
  }
  EXPECT_GE(n, kMinResults);
}

TEST(XepExamples, ErrorsRoundTripAndFollowTheErrorTable) {
  auto table = document().table("Error conditions");
  ASSERT_TRUE(table.has_value()) << "no table captioned 'Error conditions'";
  // (stanza condition, type) pairs the table allows for errors without an app condition.
  std::set<std::pair<std::string, std::string>> plain;
  for (const auto& row : *table) {
    ASSERT_EQ(row.size(), 4u);
    if (row[0] == "(none)") {
      plain.insert({row[1], row[2]});
      continue;
    }
    // The spec's table and the library's make_error() agree.
    auto app = proto::app_condition_from(row[0]);
    ASSERT_TRUE(app.has_value()) << "library lacks application condition " << row[0];
    auto e = proto::make_error(*app);
    EXPECT_EQ(proto::to_string(e.condition), row[1]) << row[0];
    EXPECT_EQ(proto::to_string(e.type), row[2]) << row[0];
  }

  std::set<std::string> apps_seen, plain_seen;
  std::size_t n = 0;
  for (const auto& [ex, root] : parsed_examples()) {
    SCOPED_TRACE(trace(ex));
    for (const auto& iq : root.children()) {
      if (!iq.is("iq", ns::kClient) || iq.attr("type") != "error") continue;
      const xml::Element* error = stanza_child(iq, "error");
      ASSERT_NE(error, nullptr) << "error IQ without <error/>";
      auto e = proto::parse_stanza_error(*error);
      ASSERT_TRUE(e.has_value()) << xml::to_string(*error);
      EXPECT_TRUE(xml::equivalent(proto::to_xml(*e, ns::kClient), *error))
          << "example: " << xml::to_string(*error)
          << "\nto_xml:  " << xml::to_string(proto::to_xml(*e, ns::kClient));
      if (e->app != proto::AppCondition::kNone) {
        auto want = proto::make_error(e->app);
        EXPECT_EQ(e->condition, want.condition);
        EXPECT_EQ(e->type, want.type);
        apps_seen.insert(std::string(proto::to_string(e->app)));
      } else {
        std::pair<std::string, std::string> ct{std::string(proto::to_string(e->condition)),
                                               std::string(proto::to_string(e->type))};
        EXPECT_TRUE(plain.count(ct)) << ct.first << "/" << ct.second << " is not in the table";
        plain_seen.insert(ct.first);
      }
      ++n;
    }
  }
  // One example per condition of the table.
  for (const auto& row : *table) {
    if (row[0] == "(none)") {
      EXPECT_TRUE(plain_seen.count(row[1])) << "no example for " << row[1];
    } else {
      EXPECT_TRUE(apps_seen.count(row[0])) << "no example for " << row[0];
    }
  }
  EXPECT_EQ(n, table->size());
}

// ---- Schema ------------------------------------------------------------------------------

// The error argument of xmlStructuredErrorFunc (xmlErrorPtr before libxml2 2.12, const after).
template <class F>
struct ErrorArg;
template <class E>
struct ErrorArg<void (*)(void*, E)> {
  using type = E;
};

struct SchemaErrors {
  std::string text;
  static void collect(void* ctx, ErrorArg<xmlStructuredErrorFunc>::type e) {
    auto* self = static_cast<SchemaErrors*>(ctx);
    if (e && e->message) self->text += e->message;
  }
};

class Schema {
 public:
  explicit Schema(const std::string& path) {
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path.c_str());
    schema_ = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
  }
  ~Schema() {
    if (schema_) xmlSchemaFree(schema_);
  }
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;
  bool ok() const { return schema_ != nullptr; }

  // Validates the subtree rooted at `element` in place; returns the errors ("" = valid).
  std::optional<std::string> errors(xmlNodePtr element) const {
    SchemaErrors errs;
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema_);
    xmlSchemaSetValidStructuredErrors(vc, &SchemaErrors::collect, &errs);
    int rc = xmlSchemaValidateOneElement(vc, element);
    xmlSchemaFreeValidCtxt(vc);
    if (rc == 0) return std::nullopt;
    return errs.text.empty() ? "invalid (code " + std::to_string(rc) + ")" : errs.text;
  }

 private:
  xmlSchemaPtr schema_ = nullptr;
};

std::string prop(xmlNodePtr n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string out = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return out;
}

bool in_rpsync(const xmlNode* n) {
  return n && n->type == XML_ELEMENT_NODE && n->ns &&
         xmlStrcmp(n->ns->href, reinterpret_cast<const xmlChar*>(ns::kRpsync.data())) == 0;
}

template <class F>
void each_element(xmlNodePtr n, F&& f) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    f(n);
    each_element(n->children, f);
  }
}

TEST(XepSchema, EveryRpsyncElementOfEveryExampleIsValid) {
  Schema schema(RPSYNC_XSD_PATH);
  ASSERT_TRUE(schema.ok()) << "cannot load " << RPSYNC_XSD_PATH;
  std::size_t valid = 0, invalid = 0;
  for (const auto& [ex, root] : parsed_examples()) {
    SCOPED_TRACE(trace(ex));
    // Requests this example answers as malformed: their payload must not validate.
    std::set<std::string> malformed_ids;
    for (const auto& iq : root.children())
      if (is_request(iq) && expected_parse_error(root, iq))
        malformed_ids.insert(std::string(*iq.attr("id")));

    std::string text = wrap_in_client_stream(ex.text);
    xmlDocPtr doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), "example.xml",
                                  "UTF-8", XML_PARSE_NONET);
    ASSERT_NE(doc, nullptr);
    each_element(xmlDocGetRootElement(doc), [&](xmlNodePtr n) {
      if (!in_rpsync(n) || in_rpsync(n->parent)) return;  // outermost rpsync elements only
      const bool expect_invalid = n->parent && prop(n->parent, "type") == "set" &&
                                  malformed_ids.count(prop(n->parent, "id"));
      auto errors = schema.errors(n);
      if (expect_invalid) {
        EXPECT_TRUE(errors.has_value()) << "<" << n->name << "/> should not validate";
        ++invalid;
      } else {
        EXPECT_FALSE(errors.has_value()) << "<" << n->name << "/>: " << errors.value_or("");
        ++valid;
      }
    });
    xmlFreeDoc(doc);
  }
  EXPECT_GE(valid, kMinValidated);
  EXPECT_EQ(invalid, 2u);
}

TEST(XepSchema, SchemaSectionIsTheSchemaFile) {
  auto blocks = document().code_in_section("schema");
  ASSERT_EQ(blocks.size(), 1u);
  std::FILE* f = std::fopen(RPSYNC_XSD_PATH, "rb");
  ASSERT_NE(f, nullptr);
  std::string file;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) file.append(buf, n);
  std::fclose(f);
  EXPECT_EQ(trim(blocks[0]), trim(file));
}

// ---- The story the examples tell -----------------------------------------------------------

TEST(XepStory, EveryDigestInTheExamplesIsTheTrueDigest) {
  const proto::PresenceState s0 = worked_example_state();
  ASSERT_EQ(s0.size(), 2u);
  const proto::StateDigest d0 = proto::digest_of(s0);
  std::size_t summaries = 0, deltas = 0;
  for (const auto& [ex, root] : parsed_examples()) {
    SCOPED_TRACE(trace(ex));
    for (const auto& iq : root.children()) {
      if (iq.attr("type") != "result") continue;
      const xml::Element* p = rpsync_child(iq);
      if (!p) continue;
      if (p->name() == "enabled") {
        auto r = proto::parse_enabled(*p);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->state, d0) << "enable happens in state S0";
        ++summaries;
      } else if (p->name() == "checkpointed") {
        auto r = proto::parse_checkpointed(*p);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->state, d0) << "every checkpoint happens in state S0";
        ++summaries;
      } else if (p->name() == "delta") {
        auto d = proto::parse_delta(*p);
        ASSERT_TRUE(d.ok()) << d.error().text;
        // Every sync starts from S0, except the example that lists S0 itself.
        proto::PresenceState s = ex.caption == kWorkedDeltaCaption ? proto::PresenceState{} : s0;
        ASSERT_TRUE(proto::apply(s, *d)) << "delta does not fit its starting state";
        EXPECT_EQ(proto::digest_of(s), d->state)
            << "count/digest in the example: " << d->state.count() << " " << d->state.hex()
            << "; after applying: " << proto::digest_of(s).hex();
        if (ex.caption == kWorkedDeltaCaption) {
          EXPECT_EQ(s, s0);
        } else {
          // No redundant items: as many resource items as the minimal delta has.
          EXPECT_EQ(proto::diff(s0, s).items(), d->items() - d->contacts.size())
              << "delta is not minimal";
        }
        ++deltas;
      }
    }
  }
  EXPECT_GE(summaries, 3u);
  EXPECT_GE(deltas, 5u);
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

TEST(XepStory, ClientCapsHashMatchesItsDiscoInfo) {
  auto presence_ex = document().example("Client announces its capabilities in its presence");
  auto disco_ex = document().example("A contact resolves the capabilities of the client");
  ASSERT_TRUE(presence_ex && disco_ex);
  auto presence = xml::parse(wrap_in_client_stream(presence_ex->text));
  auto disco = xml::parse(wrap_in_client_stream(disco_ex->text));
  ASSERT_TRUE(std::holds_alternative<xml::Element>(presence));
  ASSERT_TRUE(std::holds_alternative<xml::Element>(disco));

  const xml::Element* c = std::get<xml::Element>(presence).children().at(0).child("c", ns::kCaps);
  ASSERT_NE(c, nullptr);
  const xml::Element* query = nullptr;
  for (const auto& iq : std::get<xml::Element>(disco).children())
    if (iq.attr("type") == "result") query = iq.child("query", ns::kDiscoInfo);
  ASSERT_NE(query, nullptr);

  // XEP-0115 §5.1 verification string (no data forms, no xml:lang here).
  std::vector<std::string> identities, features;
  for (const auto& e : query->children()) {
    if (e.name() == "identity")
      identities.push_back(std::string(e.attr("category").value_or("")) + "/" +
                           std::string(e.attr("type").value_or("")) + "//" +
                           std::string(e.attr("name").value_or("")));
    if (e.name() == "feature") features.push_back(std::string(e.attr("var").value_or("")));
  }
  EXPECT_TRUE(std::count(features.begin(), features.end(), std::string(ns::kRpsync)));
  std::sort(identities.begin(), identities.end());
  std::sort(features.begin(), features.end());
  std::string s;
  for (const auto& i : identities) s += i + "<";
  for (const auto& f : features) s += f + "<";
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), sha);
  EXPECT_EQ(base64(sha, sizeof sha), c->attr("ver").value_or(""));
  EXPECT_EQ(
      std::string(query->attr("node").value_or("")),
      std::string(c->attr("node").value_or("")) + "#" + std::string(c->attr("ver").value_or("")));
}

}  // namespace
}  // namespace rpsync::xeptest
