// SPDX-License-Identifier: MIT
#include "tests/harness/ejabberd/ejabberd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "protocol/ns.h"
#include "tests/harness/xml_socket.h"

namespace rpsync::test {
namespace fs = std::filesystem;
namespace {

// ejabberd accepts on its c2s port before its virtual hosts answer streams (seen on a loaded
// machine: a login right after relaunch got no <stream:features/> within 5 s). Ready means
// a stream to `host` gets its features; false when `deadline` passes first.
bool c2s_serves(std::uint16_t port, const std::string& host,
                std::chrono::steady_clock::time_point deadline) {
  using Ms = std::chrono::milliseconds;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string why;
    if (auto s = XmlSocket::connect(port, /*nodelay=*/true, &why)) {
      const bool sent = s->send("<?xml version='1.0'?><stream:stream to='" + host +
                                "' xmlns='jabber:client' "
                                "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
      const bool served =
          sent && s->wait_for([](const xml::Element& e) { return e.is("features", ns::kStreams); },
                              Ms(1000));
      s->abort();
      if (served) return true;
    }
    std::this_thread::sleep_for(Ms(100));
  }
  return false;
}

using Clock = std::chrono::steady_clock;

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// YAML double-quoted scalar.
std::string yaml(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// JSON string (the values here are JIDs and passwords chosen by tests).
std::string json(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::pair<std::string, std::string> split_bare(const std::string& bare) {
  auto at = bare.find('@');
  if (at == std::string::npos) throw std::invalid_argument("not a bare JID: " + bare);
  return {bare.substr(0, at), bare.substr(at + 1)};
}

// ejabberd's code directory as ejabberdctl passes it (ERL_LIBS='/usr/lib/x86_64-linux-gnu').
std::optional<std::string> find_erl_libs() {
  if (const char* env = std::getenv("RPSYNC_EJABBERD_LIBS"); env && *env) return std::string(env);
  std::ifstream ctl("/usr/sbin/ejabberdctl");
  for (std::string line; std::getline(ctl, line);) {
    if (!line.starts_with("ERL_LIBS=")) continue;
    std::string v = line.substr(9);
    if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"')) v = v.substr(1, v.size() - 2);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(v, ec))
      if (e.path().filename().string().starts_with("ejabberd-") &&
          fs::exists(e.path() / "ebin" / "ejabberd.app"))
        return v;
  }
  return std::nullopt;
}

void chown_tree(const fs::path& root, uid_t uid, gid_t gid) {
  if (::chown(root.c_str(), uid, gid) != 0) return;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root, ec))
    if (::lchown(e.path().c_str(), uid, gid) != 0) return;
}

}  // namespace

std::optional<std::string> EjabberdServer::find_executable() {
  std::string erl = "/usr/bin/erl";
  if (const char* env = std::getenv("RPSYNC_ERL"); env && *env) erl = env;
  if (::access(erl.c_str(), X_OK) != 0 || !find_erl_libs()) return std::nullopt;
  return erl;
}

std::string EjabberdServer::built_gate_dir() {
#ifdef RPSYNC_EJABBERD_GATE_DIR
  if (fs::exists(fs::path(RPSYNC_EJABBERD_GATE_DIR) / "mod_rpsync_gate.beam"))
    return RPSYNC_EJABBERD_GATE_DIR;
#endif
  return {};
}

EjabberdServer::EjabberdServer(EjabberdOptions options, std::string erl, std::string erl_libs)
    : options_(std::move(options)), erl_(std::move(erl)), erl_libs_(std::move(erl_libs)) {
  std::string tmpl = (fs::temp_directory_path() / "rpsync-ejabberd-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  fs::create_directories(fs::path(dir_) / "spool");
  fs::create_directories(fs::path(dir_) / "log");
  c2s_port_ = free_port();
  do {
    component_port_ = free_port();
  } while (component_port_ == c2s_port_);
  do {
    api_port_ = free_port();
  } while (api_port_ == c2s_port_ || api_port_ == component_port_);
  write_config();
}

EjabberdServer::~EjabberdServer() {
  kill();
  std::error_code ec;
  if (!std::getenv("RPSYNC_KEEP_EJABBERD_DIR")) fs::remove_all(dir_, ec);
}

std::unique_ptr<EjabberdServer> EjabberdServer::create(EjabberdOptions options, std::string* why) {
  auto erl = find_executable();
  auto libs = find_erl_libs();
  if (!erl || !libs) {
    if (why) *why = "ejabberd is not installed (apt-get install ejabberd)";
    return nullptr;
  }
  return std::unique_ptr<EjabberdServer>(new EjabberdServer(std::move(options), *erl, *libs));
}

std::unique_ptr<EjabberdServer> EjabberdServer::start(EjabberdOptions options, std::string* why) {
  auto server = create(std::move(options), why);
  if (!server) return nullptr;
  if (!server->launch()) {
    if (why)
      *why = "ejabberd did not come up within " + std::to_string(kStartTimeout.count()) +
             " s; log:\n" + server->log();
    return nullptr;
  }
  return server;
}

void EjabberdServer::write_config() const {
  const std::string& comp = options_.component_jid;
  std::ostringstream c;
  c << "# written by rpsync's test harness (ejabberd 23.01)\n"
    << "loglevel: " << options_.loglevel << "\n"
    << "hosts:\n";
  for (const auto& h : options_.hosts) c << "  - " << yaml(h) << "\n";
  // No TLS anywhere: loopback tests with PLAIN over TCP.
  c << "certfiles: []\n"
    << "auth_method: internal\n"
    << "auth_password_format: plain\n"
    << "s2s_access: none\n"
    << "listen:\n"
    << "  -\n    port: " << c2s_port_ << "\n    ip: \"127.0.0.1\"\n"
    << "    module: ejabberd_c2s\n    starttls_required: false\n    access: c2s\n"
    << "  -\n    port: " << component_port_ << "\n    ip: \"127.0.0.1\"\n"
    << "    module: ejabberd_service\n    hosts:\n      " << yaml(comp)
    << ":\n        password: " << yaml(options_.component_secret) << "\n"
    << "  -\n    port: " << api_port_ << "\n    ip: \"127.0.0.1\"\n"
    << "    module: ejabberd_http\n    request_handlers:\n      /api: mod_http_api\n"
    << "acl:\n  rpsync_component:\n    server: " << yaml(comp) << "\n"
    << "access_rules:\n  c2s:\n    allow: all\n"
    << "  rpsync_privileged:\n    allow: rpsync_component\n"
    << "api_permissions:\n  \"rpsync test harness\":\n    from:\n      - mod_http_api\n"
    << "    who:\n      ip: 127.0.0.1/8\n    what: \"*\"\n"
    << "modules:\n"
    << "  mod_roster: " << (options_.roster_versioning ? "{versioning: true}" : "{}") << "\n"
    << "  mod_disco: {}\n  mod_ping: {}\n"
    << "  mod_stream_mgmt:\n    resume_timeout: " << options_.resume_timeout_s << "\n"
    << "  mod_admin_extra: {}\n";
  if (options_.grant_privileges)
    c << "  mod_privilege:\n    roster:\n      get: rpsync_privileged\n"
      << "    presence:\n      roster: rpsync_privileged\n";
  else
    c << "  mod_privilege: {}\n";
  if (!options_.gate_beam_dir.empty()) {
    c << "  mod_rpsync_gate:\n    components: [";
    const auto comps = options_.gate_components.value_or(std::vector<std::string>{comp});
    for (std::size_t i = 0; i < comps.size(); ++i) c << (i ? ", " : "") << yaml(comps[i]);
    c << "]\n";
  }
  std::ofstream(fs::path(dir_) / "ejabberd.yml") << c.str();
}

std::optional<std::string> EjabberdServer::api(const std::string& command,
                                               const std::string& json_body,
                                               std::string* error) const {
  auto fail = [&](std::string why) -> std::optional<std::string> {
    if (error) *error = command + ": " + why;
    return std::nullopt;
  };
  int fd = connect_loopback(api_port_);
  if (fd < 0) return fail("cannot connect to the admin API port");
  std::string req = "POST /api/" + command +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\nContent-Length: " +
                    std::to_string(json_body.size()) + "\r\n\r\n" + json_body;
  for (std::size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return fail("send failed");
    }
    off += static_cast<std::size_t>(n);
  }
  std::string resp;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      ::close(fd);
      return fail("timeout");
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto head_end = resp.find("\r\n\r\n");
  if (head_end == std::string::npos) return fail("no HTTP response: " + resp);
  std::string body = resp.substr(head_end + 4);
  if (!resp.starts_with("HTTP/1.1 200") && !resp.starts_with("HTTP/1.0 200"))
    return fail(resp.substr(0, resp.find("\r\n")) + " " + body);
  return body;
}

bool EjabberdServer::run_or_queue(std::string command, std::string body) {
  if (!child_.running()) {
    pending_.push_back({std::move(command), std::move(body)});
    return true;
  }
  std::string err;
  if (api(command, body, &err)) return true;
  harness_log_ += "admin command failed: " + err + "\n";
  return false;
}

bool EjabberdServer::add_user(const std::string& user, const std::string& host,
                              const std::string& password) {
  return run_or_queue("register", "{\"user\":" + json(user) + ",\"host\":" + json(host) +
                                      ",\"password\":" + json(password) + "}");
}

bool EjabberdServer::add_roster_item(const std::string& owner_bare, const std::string& contact_bare,
                                     const std::string& subscription) {
  auto [owner_user, owner_host] = split_bare(owner_bare);
  auto [user, host] = split_bare(contact_bare);
  // mod_admin_extra 23.01: add_rosteritem(localuser, localhost, user, host, nick, group, subs)
  return run_or_queue("add_rosteritem", "{\"localuser\":" + json(owner_user) + ",\"localhost\":" +
                                            json(owner_host) + ",\"user\":" + json(user) +
                                            ",\"host\":" + json(host) + ",\"nick\":" + json(user) +
                                            ",\"group\":\"\",\"subs\":" + json(subscription) + "}");
}

// Starts the VM as a child in its own process group (so kill() also reaches
// erl_child_setup and inet_gethost), as the `ejabberd` user when root (as ejabberdctl
// does; its files must be its own).
bool EjabberdServer::spawn_vm() {
  std::vector<std::string> argv{erl_, "-noinput", "-mnesia", "dir", "\"" + dir_ + "/spool\""};
  if (!options_.gate_beam_dir.empty()) {
    // A copy in an app dir of its own: a code-path entry named "ejabberd" (build/ejabberd)
    // would become code:lib_dir(ejabberd) and hide ejabberd's priv/ (translations, SQL).
    fs::path ebin = fs::path(dir_) / "rpsync_gate" / "ebin";
    std::error_code ec;
    fs::create_directories(ebin, ec);
    fs::copy_file(fs::path(options_.gate_beam_dir) / "mod_rpsync_gate.beam",
                  ebin / "mod_rpsync_gate.beam", fs::copy_options::overwrite_existing, ec);
    if (ec) return false;
    argv.insert(argv.end(), {"-pa", ebin.string()});
  }
  argv.insert(argv.end(), {"-s", "ejabberd"});
  ChildSpec spec{
      .argv = std::move(argv),
      .env = {"HOME=" + dir_, "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
              "EJABBERD_CONFIG_PATH=" + dir_ + "/ejabberd.yml",
              "EJABBERD_LOG_PATH=" + dir_ + "/log/ejabberd.log", "ERL_LIBS=" + erl_libs_,
              "ERL_CRASH_DUMP=" + dir_ + "/log/erl_crash.dump", "ERL_CRASH_DUMP_BYTES=0",
              "CONTRIB_MODULES_PATH=" + dir_ + "/contrib", "LANG=C.UTF-8"},
      .replace_env = true,
      .cwd = dir_,
      .log_path = dir_ + "/stdout.txt",
      .close_other_fds = false,
      .own_process_group = true,
  };
  if (::geteuid() == 0) {
    if (const passwd* pw = ::getpwnam("ejabberd")) {
      spec.uid = pw->pw_uid;
      spec.gid = pw->pw_gid;
      chown_tree(dir_, pw->pw_uid, pw->pw_gid);
    }
  }
  return child_.spawn(spec).ok();
}

// Ports up within kStartTimeout of `started`, then a c2s stream gets its features; kills
// the VM when not.
bool EjabberdServer::wait_until_up(Clock::time_point started) {
  auto deadline = started + kStartTimeout;
  bool up = false;
  while (Clock::now() < deadline) {
    if (!child_.alive()) return false;
    if (util::port_accepts(c2s_port_) && util::port_accepts(component_port_) &&
        util::port_accepts(api_port_)) {
      up = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!up || !c2s_serves(c2s_port_, options_.hosts.front(), deadline)) {
    kill();
    return false;
  }
  return true;
}

bool EjabberdServer::launch() {
  if (child_.running()) return true;
  auto started = Clock::now();
  if (!spawn_vm() || !wait_until_up(started)) return false;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& p : pending)
    if (!run_or_queue(std::move(p.command), std::move(p.body))) return false;
  last_launch_seconds_ = std::chrono::duration<double>(Clock::now() - started).count();
  return true;
}

void EjabberdServer::stop() {
  child_.stop(std::chrono::milliseconds(8000));  // the VM answers SIGTERM with init:stop()
}

void EjabberdServer::kill() {
  child_.kill();
}

bool EjabberdServer::restart() {
  stop();
  return launch();
}

std::string EjabberdServer::log() const {
  return util::read_file(fs::path(dir_) / "log" / "ejabberd.log") + "\n--- stdout/stderr ---\n" +
         util::read_file(fs::path(dir_) / "stdout.txt") + harness_log_;
}

bool EjabberdServer::log_shows(const std::string& text, std::chrono::milliseconds within) const {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace rpsync::test
