// SPDX-License-Identifier: MIT
#include "plugin/xmpp/quick_ack.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace rpsync::xmpp {

void request_quick_ack(int fd) {
#ifdef TCP_QUICKACK
  if (fd < 0) return;
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
  (void)fd;
#endif
}

}  // namespace rpsync::xmpp
