// SPDX-License-Identifier: MIT
// Builds against an installed rpsync-client (CMake package and pkg-config) and runs.
#include <rpsync/client_ext/manager.h>

#include <iostream>
int main() {
  rpsync::client::Client client(gloox::JID("a@example.test/r"), "pw");
  rpsync::client::MemorySessionStore store;
  rpsync::client::RpsyncManager manager(client, &store, nullptr);
  std::cout << "phase=" << static_cast<int>(manager.phase()) << " stream='" << client.stream_id()
            << "'\n";
}
