// SPDX-License-Identifier: MIT
// The HTTP server of the metrics endpoint: libmicrohttpd with its own polling thread,
// answering GET /metrics with render() of the latest published Snapshot, 404 for any other
// path and 405 for any other method. The HTTP thread reads only the Published copy and
// the start time: it never touches the event loop's state.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "plugin/metrics/listen.h"

struct MHD_Daemon;

namespace rpsync::metrics {

class Endpoint {
 public:
  // Renders the body of one scrape; called on the HTTP thread.
  using Body = std::function<std::string()>;
  // Null with `why` when the address cannot be bound.
  static std::unique_ptr<Endpoint> start(const ListenAddress& at, Body body, std::string* why);
  ~Endpoint();  // stops the thread
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  const Body& body() const { return body_; }

 private:
  explicit Endpoint(Body body) : body_(std::move(body)) {}
  Body body_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace rpsync::metrics
