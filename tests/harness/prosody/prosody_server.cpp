// SPDX-License-Identifier: MIT
#include "tests/harness/prosody/prosody_server.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rpsync::test {
namespace fs = std::filesystem;
namespace {

// Lua string literal.
std::string lua(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::pair<std::string, std::string> split_bare(const std::string& bare) {
  auto at = bare.find('@');
  if (at == std::string::npos) throw std::invalid_argument("not a bare JID: " + bare);
  return {bare.substr(0, at), bare.substr(at + 1)};
}

}  // namespace

std::string prosody_escape(const std::string& s) {
  // util/datamanager.lua encode(): every byte outside [A-Za-z0-9] becomes %xx.
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c)) {
      out += ch;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02x", c);
      out += buf;
    }
  }
  return out;
}

std::optional<std::string> ProsodyServer::find_executable() {
  if (const char* env = std::getenv("RPSYNC_PROSODY"); env && *env) {
    if (::access(env, X_OK) == 0) return std::string(env);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::istringstream ss(dirs);
  for (std::string d; std::getline(ss, d, ':');) {
    fs::path candidate = fs::path(d.empty() ? "." : d) / "prosody";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

ProsodyServer::ProsodyServer(ProsodyOptions options, std::string executable)
    : options_(std::move(options)), executable_(std::move(executable)) {
  std::string tmpl = (fs::temp_directory_path() / "rpsync-prosody-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  fs::create_directories(fs::path(dir_) / "data");
  c2s_port_ = free_port();
  do {
    component_port_ = free_port();
  } while (component_port_ == c2s_port_);
  write_config();
}

ProsodyServer::~ProsodyServer() {
  kill();
  std::error_code ec;
  if (!std::getenv("RPSYNC_KEEP_PROSODY_DIR")) fs::remove_all(dir_, ec);
}

std::unique_ptr<ProsodyServer> ProsodyServer::create(ProsodyOptions options, std::string* why) {
  auto exe = find_executable();
  if (!exe) {
    if (why) *why = "prosody is not installed (apt-get install prosody prosody-modules)";
    return nullptr;
  }
  return std::unique_ptr<ProsodyServer>(new ProsodyServer(std::move(options), *exe));
}

std::unique_ptr<ProsodyServer> ProsodyServer::start(ProsodyOptions options, std::string* why) {
  auto server = create(std::move(options), why);
  if (!server) return nullptr;
  if (!server->launch()) {
    if (why) *why = "prosody did not come up within 15 s; log:\n" + server->log();
    return nullptr;
  }
  return server;
}

void ProsodyServer::write_config() const {
  std::ostringstream c;
  c << "-- written by rpsync's test harness\n";
  if (::geteuid() == 0) c << "run_as_root = true\n";
  c << "daemonize = false\n"
    << "pidfile = " << lua(dir_ + "/prosody.pid") << "\n"
    << "data_path = " << lua(dir_ + "/data") << "\n"
    << "certificates = " << lua(dir_) << "\n"
    << "log = { debug = " << lua(dir_ + "/prosody.log") << " }\n"
    << "interfaces = { \"127.0.0.1\" }\n"
    << "c2s_ports = { " << c2s_port_ << " }\n"
    << "component_ports = { " << component_port_ << " }\n"
    << "component_interfaces = { \"127.0.0.1\" }\n"
    << "s2s_ports = { }\nc2s_direct_tls_ports = { }\nlegacy_ssl_ports = { }\n"
    << "http_ports = { }\nhttps_ports = { }\n"
    << "authentication = \"internal_plain\"\n"
    << "storage = \"internal\"\n"
    << "c2s_require_encryption = false\n"
    << "allow_unencrypted_plain_auth = true\n"
    << "modules_enabled = { \"roster\"; \"saslauth\"; \"disco\"; \"presence\"; \"ping\"; "
       "\"privilege\"; \"smacks\"; \"posix\" }\n"
    << "modules_disabled = { \"s2s\"; \"tls\" }\n";
  for (const auto& host : options_.hosts) {
    c << "VirtualHost " << lua(host) << "\n";
    if (options_.grant_privileges)
      c << "  privileged_entities = { [" << lua(options_.component_jid)
        << "] = { roster = \"get\"; presence = \"roster\"; } }\n";
  }
  c << "Component " << lua(options_.component_jid) << "\n"
    << "  component_secret = " << lua(options_.component_secret) << "\n"
    << "  modules_enabled = { \"privilege\" }\n";
  std::ofstream(fs::path(dir_) / "prosody.cfg.lua") << c.str();
}

void ProsodyServer::add_user(const std::string& user, const std::string& host,
                             const std::string& password) {
  fs::path d = fs::path(dir_) / "data" / prosody_escape(host) / "accounts";
  fs::create_directories(d);
  std::ofstream(d / (prosody_escape(user) + ".dat"))
      << "return {\n\t[\"password\"] = " << lua(password) << ";\n};\n";
}

void ProsodyServer::add_roster_item(const std::string& owner_bare, const std::string& contact_bare,
                                    const std::string& subscription) {
  auto& items = rosters_[owner_bare];
  std::erase_if(items, [&](const auto& i) { return i.first == contact_bare; });
  items.emplace_back(contact_bare, subscription);
  write_roster(owner_bare);
}

void ProsodyServer::add_roster_items(const std::string& owner_bare,
                                     const std::vector<std::string>& contacts,
                                     const std::string& subscription) {
  auto& items = rosters_[owner_bare];
  for (const auto& c : contacts) items.emplace_back(c, subscription);
  write_roster(owner_bare);
}

void ProsodyServer::write_roster(const std::string& owner_bare) {
  const auto& items = rosters_[owner_bare];
  auto [user, host] = split_bare(owner_bare);
  fs::path d = fs::path(dir_) / "data" / prosody_escape(host) / "roster";
  fs::create_directories(d);
  std::ostringstream r;
  r << "return {\n\t[false] = {\n\t\t[\"version\"] = 1;\n\t\t[\"pending\"] = {};\n\t};\n";
  for (const auto& [contact, sub] : items)
    r << "\t[" << lua(contact) << "] = {\n\t\t[\"subscription\"] = " << lua(sub)
      << ";\n\t\t[\"groups\"] = {};\n\t};\n";
  r << "};\n";
  std::ofstream(d / (prosody_escape(user) + ".dat")) << r.str();
}

bool ProsodyServer::launch() {
  if (child_.running()) return true;
  Status spawned = child_.spawn({.argv = {executable_, "--config", dir_ + "/prosody.cfg.lua", "-F"},
                                 .log_path = dir_ + "/stdout.txt"});
  if (!spawned.ok()) return false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_.alive()) return false;
    if (util::port_accepts(c2s_port_) && util::port_accepts(component_port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill();
  return false;
}

void ProsodyServer::stop() {
  child_.stop(std::chrono::milliseconds(5000));
}

void ProsodyServer::kill() {
  child_.kill();
}

bool ProsodyServer::restart() {
  stop();
  return launch();
}

std::string ProsodyServer::log() const {
  return util::read_file(fs::path(dir_) / "prosody.log") + "\n--- stdout/stderr ---\n" +
         util::read_file(fs::path(dir_) / "stdout.txt");
}

}  // namespace rpsync::test
