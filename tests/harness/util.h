// SPDX-License-Identifier: MIT
// Small helpers shared by the server harnesses (Prosody here, ejabberd in
// tests/harness/ejabberd): loopback ports and reading a server's log files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace rpsync::test {

// A free TCP port on 127.0.0.1 at the time of the call (bind to port 0, then release).
uint16_t free_port();

// (Nested so that harnesses with file-local helpers of the same names still compile.)
namespace util {
// True when something accepts a TCP connection on 127.0.0.1:port right now.
bool port_accepts(uint16_t port);
// Whole file as bytes; empty when it cannot be read.
std::string read_file(const std::filesystem::path& path);
}  // namespace util

}  // namespace rpsync::test
