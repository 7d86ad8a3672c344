// SPDX-License-Identifier: MIT
#include "client_strophe/own_disco.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include "protocol/ns.h"

namespace rpsync::strophe {

std::vector<std::string> own_features() {
  std::vector<std::string> f{std::string(ns::kDiscoInfo), std::string(ns::kCaps),
                             std::string(ns::kRpsync)};
  std::sort(f.begin(), f.end());
  return f;
}

std::optional<xml::Element> disco_info_answer(const xml::Element& iq,
                                              const std::vector<std::string>& features) {
  if (iq.name() != "iq" || iq.attr("type") != std::optional<std::string_view>("get")) {
    return std::nullopt;
  }
  const xml::Element* q = iq.child("query", ns::kDiscoInfo);
  if (q == nullptr) return std::nullopt;
  xml::Element answer("iq", std::string(ns::kClient));
  answer.set_attr("type", "result");
  answer.set_attr("id", std::string(iq.attr("id").value_or("")));
  if (auto from = iq.attr("from")) answer.set_attr("to", std::string(*from));
  xml::Element& query = answer.add(xml::Element("query", std::string(ns::kDiscoInfo)));
  if (auto node = q->attr("node")) query.set_attr("node", std::string(*node));
  xml::Element& identity = query.add(xml::Element("identity", std::string(ns::kDiscoInfo)));
  identity.set_attr("category", "client");
  identity.set_attr("type", "pc");
  for (const auto& f : features) {
    query.add(xml::Element("feature", std::string(ns::kDiscoInfo))).set_attr("var", f);
  }
  return answer;
}

std::string caps_ver(const std::vector<std::string>& features) {
  std::vector<std::string> sorted = features;
  std::sort(sorted.begin(), sorted.end());
  std::string s = "client/pc//<";
  for (const auto& f : sorted) s += f + "<";
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, md, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

xml::Element caps_element(const std::string& node, const std::string& ver) {
  xml::Element c("c", std::string(ns::kCaps));
  c.set_attr("hash", "sha-1");
  c.set_attr("node", node);
  c.set_attr("ver", ver);
  return c;
}

}  // namespace rpsync::strophe
