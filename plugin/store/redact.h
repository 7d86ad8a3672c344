// SPDX-License-Identifier: MIT
// The one function that makes a store URI printable (logs, --check, error texts): every
// secret it may carry is replaced.
//   userinfo   scheme://user:PW@host -> scheme://user:***@host, scheme://PW@host -> ***@
//   query      ?password=PW&prefix=x -> ?... (any query; it is where options and secrets go)
// Anything that is not a URI (a sqlite: path, memory:) comes back unchanged.
#pragma once

#include <string>
#include <string_view>

namespace rpsync::store {

std::string redact_uri(std::string_view uri);

}  // namespace rpsync::store
