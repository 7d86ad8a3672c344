// SPDX-License-Identifier: MIT
#include "tests/scenario/component_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/harness/util.h"

#ifndef RPSYNC_COMPONENT_BINARY
#error "RPSYNC_COMPONENT_BINARY must name the built rpsync-component"
#endif

namespace rpsync::test::scenario {

ComponentProcess::ComponentProcess(std::string dir, std::uint16_t port, ComponentSpec spec)
    : dir_(std::move(dir)),
      port_(port),
      spec_(std::move(spec)),
      store_path_(dir_ + "/rpsync.db"),
      log_path_(dir_ + "/component.log") {}

ComponentProcess::~ComponentProcess() {
  if (pid_ > 0) kill9();
}

bool ComponentProcess::start(std::string* why) {
  std::vector<std::string> args{spec_.binary.empty() ? RPSYNC_COMPONENT_BINARY : spec_.binary,
                                "--host",
                                "127.0.0.1",
                                "--port",
                                std::to_string(port_),
                                "--component",
                                spec_.component_jid,
                                "--store",
                                "sqlite:" + store_path_,
                                "--secret-env",
                                "RPSYNC_SECRET",
                                "--stats-interval",
                                "0",
                                "--log-level",
                                "debug"};
  for (const auto& d : spec_.domains) {
    args.push_back("--domain");
    args.push_back(d);
  }
  args.insert(args.end(), spec_.extra_args.begin(), spec_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string secret_env = "RPSYNC_SECRET=" + spec_.secret;
  std::vector<std::string> extra_env = spec_.env;

  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (why) *why = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::close_range(3, ~0u, 0);
    ::putenv(secret_env.data());
    for (auto& e : extra_env) ::putenv(e.data());
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  // A configuration or store error exits within milliseconds.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!alive()) {
    if (why) *why = "rpsync-component exited at start:\n" + log();
    return false;
  }
  return true;
}

int ComponentProcess::reap(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (pid_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (r < 0) {
      pid_ = -1;
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

int ComponentProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = reap(5000);
  if (status == -2) {
    kill9();
    return -1;
  }
  return status;
}

void ComponentProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool ComponentProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string ComponentProcess::log() const {
  return util::read_file(log_path_);
}

}  // namespace rpsync::test::scenario
