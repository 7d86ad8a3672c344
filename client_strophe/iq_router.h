// SPDX-License-Identifier: MIT
// IqRouter: sends IQ requests through a Transport and hands each result or error to the
// callback registered for its id (one answer per request; the others are not ours).
// Pending requests are dropped on a disconnect (their answers can no longer arrive).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "client_strophe/transport.h"
#include "protocol/xml.h"

namespace rpsync::strophe {

class IqRouter {
 public:
  using Callback = std::function<void(const xml::Element& answer, std::size_t bytes)>;

  explicit IqRouter(Transport& transport) : transport_(transport) {}

  // Sends <iq type=`type` to=`to`> with `payload` (to empty: no 'to') and returns its id.
  std::string send(std::string_view type, const std::string& to, xml::Element payload,
                   Callback on_answer);
  // An incoming top-level element: true when it answered one of our requests.
  bool dispatch(const xml::Element& stanza, std::size_t bytes);
  void clear() { pending_.clear(); }
  bool pending(const std::string& id) const { return pending_.count(id) != 0; }

 private:
  Transport& transport_;
  std::map<std::string, Callback, std::less<>> pending_;
};

// The payload of an IQ: its first child element (null when it has none).
const xml::Element* payload_of(const xml::Element& iq);
// True for <iq type='result'/>.
bool is_result(const xml::Element& iq);

}  // namespace rpsync::strophe
