// SPDX-License-Identifier: MIT
#include "plugin/metrics/endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "plugin/metrics/render.h"

namespace rpsync::metrics {
namespace {

MHD_Result respond(MHD_Connection* c, unsigned status, std::string body,
                   std::string_view content_type) {
  MHD_Response* r =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, std::string(content_type).c_str());
  MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method,
                      const char*, const char*, size_t* upload_size, void** state) {
  // First call of a request: headers only. Answer on the second (no body expected).
  if (*state == nullptr) {
    static int marker;
    *state = &marker;
    return MHD_YES;
  }
  if (*upload_size != 0) return MHD_NO;  // a body on a scrape: drop the connection
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  if (std::string_view(method) != "GET" && std::string_view(method) != "HEAD")
    return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n", kText);
  if (std::string_view(url) != "/metrics")
    return respond(c, MHD_HTTP_NOT_FOUND, "metrics are at /metrics\n", kText);
  const auto* self = static_cast<const Endpoint*>(cls);
  return respond(c, MHD_HTTP_OK, self->body()(), kContentType);
}

}  // namespace

std::unique_ptr<Endpoint> Endpoint::start(const ListenAddress& at, Body body, std::string* why) {
  std::unique_ptr<Endpoint> e(new Endpoint(std::move(body)));
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* addr = nullptr;
  if (at.v6) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(at.port);
    inet_pton(AF_INET6, at.ip.c_str(), &v6.sin6_addr);
    addr = reinterpret_cast<const sockaddr*>(&v6);
  } else {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(at.port);
    inet_pton(AF_INET, at.ip.c_str(), &v4.sin_addr);
    addr = reinterpret_cast<const sockaddr*>(&v4);
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (at.v6) flags |= MHD_USE_IPv6;
  errno = 0;
  e->daemon_ = MHD_start_daemon(flags, at.port, nullptr, nullptr, &on_request, e.get(),
                                MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (!e->daemon_) {
    *why = "cannot listen on " + at.ip + ":" + std::to_string(at.port) +
           (errno ? std::string(": ") + std::strerror(errno) : std::string());
    return nullptr;
  }
  return e;
}

Endpoint::~Endpoint() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

}  // namespace rpsync::metrics
