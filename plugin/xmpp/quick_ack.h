// SPDX-License-Identifier: MIT
// TCP_QUICKACK on the component's stream: acknowledge what the server sent at once
// instead of after the kernel's delayed-ACK timer (up to ~40 ms on Linux). A server that
// leaves Nagle's algorithm on (Prosody's default) holds its next small write until the
// previous one is acknowledged, so a delayed ACK here stalls the server's next stanza to
// the component, e.g. the user's presence right after the sync request. Linux clears the
// flag again as it sees fit, so it is set after every read. No-op where unsupported.
#pragma once

namespace rpsync::xmpp {

// Best effort: errors are ignored (the stream works without it, only slower).
void request_quick_ack(int fd);

}  // namespace rpsync::xmpp
