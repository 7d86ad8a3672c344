// SPDX-License-Identifier: MIT
// Test helpers shared by the client_ext tests: a temporary directory, and loading
// mod_rpsync_gate (plugin/prosody, RPSYNC_GATE_PLUGIN_DIR) into a harness Prosody.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "tests/harness/prosody/prosody_server.h"

namespace rpsync::client::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "rpsync-client-XXXXXX").string();
    path_ = ::mkdtemp(t.data()) != nullptr ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

#ifdef RPSYNC_GATE_PLUGIN_DIR
// Loads mod_rpsync_gate on example.test into the config the harness wrote in create();
// call before launch(). False when the config has no such VirtualHost.
inline bool load_gate_into(const test::ProsodyServer& server) {
  const auto cfg = std::filesystem::path(server.dir()) / "prosody.cfg.lua";
  std::stringstream text;
  text << std::ifstream(cfg).rdbuf();
  std::string out = "plugin_paths = { \"" RPSYNC_GATE_PLUGIN_DIR "\" }\n";
  bool found = false;
  std::istringstream lines(text.str());
  for (std::string line; std::getline(lines, line);) {
    out += line + "\n";
    if (line == "VirtualHost \"example.test\"") {
      out += "  modules_enabled = { \"rpsync_gate\" }\n";
      found = true;
    }
  }
  std::ofstream(cfg, std::ios::trunc) << out;
  return found;
}
#endif

}  // namespace rpsync::client::testing
