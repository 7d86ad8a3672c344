// SPDX-License-Identifier: MIT
// The XMPP server rpsync_reconnect_bench runs against (--server prosody|ejabberd), behind
// one interface so the benchmark's flow stays the same: users and roster items queued
// before launch(), then the ports. Prosody is the harness's ProsodyServer (the benchmark
// patches its config before launch, prosody()); ejabberd is the harness's EjabberdServer
// with this project's mod_rpsync_gate loaded (gate and session reports for the
// component) and roster versioning on (mod_roster: {versioning: true}), logging at
// warning. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tests/harness/ejabberd/ejabberd_server.h"
#include "tests/harness/prosody/prosody_server.h"

namespace rpsync::bench {

class BenchServer {
 public:
  virtual ~BenchServer() = default;
  virtual const char* name() const = 0;  // "prosody", "ejabberd"
  // "Prosody 0.12" or "ejabberd 23.01", for the report's title.
  virtual const char* title() const = 0;
  virtual void add_user(const std::string& user, const std::string& host,
                        const std::string& password) = 0;
  virtual void add_roster_item(const std::string& owner_bare, const std::string& contact_bare,
                               const std::string& subscription) = 0;
  virtual bool launch() = 0;
  virtual std::uint16_t c2s_port() const = 0;
  virtual std::uint16_t component_port() const = 0;
  virtual std::string dir() const = 0;
  virtual std::string log() const = 0;
  // The server's process, for the CPU columns (ejabberd: the Erlang VM).
  virtual pid_t pid() const = 0;
  // The Prosody server before launch (config patches), null for ejabberd.
  virtual test::ProsodyServer* prosody() { return nullptr; }
  // The component log line that says it answers requests: on Prosody connected with
  // privileges, on ejabberd every host's re-send completed (<sessions-sent/>).
  virtual const char* component_ready_marker() const = 0;
};

// "prosody" or "ejabberd"; null with `why` when unknown, not installed or not creatable.
std::unique_ptr<BenchServer> make_bench_server(const std::string& name,
                                               const std::string& component_jid,
                                               const std::string& secret, std::string* why);

}  // namespace rpsync::bench
