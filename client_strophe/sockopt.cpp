// SPDX-License-Identifier: MIT
// rpsync_strophe_sockopt_cb: libstrophe's keepalive settings plus TCP_NODELAY on the
// client's socket (why: include/rpsync/strophe.h).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "client_strophe/handle.h"

RPSYNC_STROPHE_API int rpsync_strophe_sockopt_cb(xmpp_conn_t* conn, void* sock) {
  if (conn == nullptr || sock == nullptr) return -1;
  if (xmpp_sockopt_cb_keepalive(conn, sock) != 0) return -1;
  const int fd = *static_cast<int*>(sock);
  const int one = 1;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 ? 0 : -1;
}
