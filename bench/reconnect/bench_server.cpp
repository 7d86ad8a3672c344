// SPDX-License-Identifier: MIT
#include "bench/reconnect/bench_server.h"

namespace rpsync::bench {
namespace {

template <class Server>
class Wrapped : public BenchServer {
 public:
  explicit Wrapped(std::unique_ptr<Server> s) : s_(std::move(s)) {}
  void add_user(const std::string& user, const std::string& host,
                const std::string& password) override {
    s_->add_user(user, host, password);
  }
  void add_roster_item(const std::string& owner, const std::string& contact,
                       const std::string& subscription) override {
    s_->add_roster_item(owner, contact, subscription);
  }
  bool launch() override { return s_->launch(); }
  std::uint16_t c2s_port() const override { return s_->c2s_port(); }
  std::uint16_t component_port() const override { return s_->component_port(); }
  std::string dir() const override { return s_->dir(); }
  std::string log() const override { return s_->log(); }

  pid_t pid() const override { return s_->pid(); }

 protected:
  std::unique_ptr<Server> s_;
};

class Prosody final : public Wrapped<test::ProsodyServer> {
 public:
  using Wrapped::Wrapped;
  const char* name() const override { return "prosody"; }
  const char* title() const override { return "Prosody 0.12"; }
  test::ProsodyServer* prosody() override { return s_.get(); }
  const char* component_ready_marker() const override { return "connected privileged=yes"; }
};

class Ejabberd final : public Wrapped<test::EjabberdServer> {
 public:
  using Wrapped::Wrapped;
  const char* name() const override { return "ejabberd"; }
  const char* title() const override { return "ejabberd 23.01"; }
  const char* component_ready_marker() const override { return "complete=yes"; }
};

}  // namespace

std::unique_ptr<BenchServer> make_bench_server(const std::string& name,
                                               const std::string& component_jid,
                                               const std::string& secret, std::string* why) {
  if (name == "prosody") {
    test::ProsodyOptions po;
    po.component_jid = component_jid;
    po.component_secret = secret;
    auto s = test::ProsodyServer::create(po, why);
    if (!s) return nullptr;
    return std::make_unique<Prosody>(std::move(s));
  }
  if (name == "ejabberd") {
    test::EjabberdOptions eo;
    eo.component_jid = component_jid;
    eo.component_secret = secret;
    eo.loglevel = "warning";
    eo.gate_beam_dir = test::EjabberdServer::built_gate_dir();
    eo.roster_versioning = true;
    if (eo.gate_beam_dir.empty()) {
      *why = "mod_rpsync_gate.beam was not built (erlc, ejabberd and erlang-p1-xmpp needed)";
      return nullptr;
    }
    auto s = test::EjabberdServer::create(eo, why);
    if (!s) return nullptr;
    return std::make_unique<Ejabberd>(std::move(s));
  }
  *why = "unknown server '" + name + "' (prosody or ejabberd)";
  return nullptr;
}

}  // namespace rpsync::bench
