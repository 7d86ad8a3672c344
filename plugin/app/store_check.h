// SPDX-License-Identifier: MIT
// `rpsync-component --check`: is the configured store usable? SQLite: the file's
// directory exists and is writable, and an existing file is a regular file the process
// may read and write. Redis: the server answers (connect, AUTH, SELECT). memory: always.
// The message never contains the store URI's query (where a Redis password lives).
#pragma once

#include <optional>
#include <string>

namespace rpsync::app {

// nullopt when usable, else what is wrong.
std::optional<std::string> check_store(const std::string& uri);

}  // namespace rpsync::app
