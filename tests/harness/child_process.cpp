// SPDX-License-Identifier: MIT
#include "tests/harness/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

namespace rpsync::test {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(10);

// Everything the child needs, built before fork() (no allocation between fork and exec).
struct Prepared {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

// NAME of a NAME=VALUE entry, with the '='.
std::string_view env_name(std::string_view entry) {
  auto eq = entry.find('=');
  return entry.substr(0, eq == std::string_view::npos ? entry.size() : eq + 1);
}

// The inherited environment without the names spec.env sets, then spec.env (where a
// name comes twice, the later entry wins, as with putenv in order).
std::vector<std::string> child_environment(const ChildSpec& spec) {
  auto set_later = [&](std::string_view entry, std::size_t from) {
    for (std::size_t i = from; i < spec.env.size(); ++i)
      if (env_name(spec.env[i]) == env_name(entry)) return true;
    return false;
  };
  std::vector<std::string> out;
  if (!spec.replace_env)
    for (char** e = environ; e && *e; ++e)
      if (!set_later(*e, 0)) out.emplace_back(*e);
  for (std::size_t i = 0; i < spec.env.size(); ++i)
    if (!set_later(spec.env[i], i + 1)) out.push_back(spec.env[i]);
  return out;
}

Prepared prepare(const ChildSpec& spec) {
  Prepared p{spec.argv, child_environment(spec), {}, {}};
  for (auto& a : p.argv_storage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  return p;
}

// Points stdout/stderr at the log file; false when the file cannot be owned by the user
// the child will run as.
bool redirect_output(const ChildSpec& spec) {
  if (spec.log_path.empty()) return true;
  int flags = O_WRONLY | O_CREAT | (spec.truncate_log ? O_TRUNC : O_APPEND);
  int fd = ::open(spec.log_path.c_str(), flags, 0644);
  if (fd < 0) return true;  // the child still runs, its output is lost
  if (spec.uid && ::fchown(fd, *spec.uid, spec.gid.value_or(static_cast<gid_t>(-1))) != 0)
    return false;
  if (spec.log_stdout) ::dup2(fd, 1);
  ::dup2(fd, 2);
  if (fd > 2) ::close(fd);
  return true;
}

bool drop_credentials(const ChildSpec& spec) {
  if (!spec.uid && !spec.gid) return true;
  if (::setgroups(0, nullptr) != 0) return false;
  if (spec.gid && ::setgid(*spec.gid) != 0) return false;
  if (spec.uid && ::setuid(*spec.uid) != 0) return false;
  return true;
}

[[noreturn]] void run_child(const ChildSpec& spec, Prepared& p, pid_t parent) {
  if (spec.own_process_group) ::setpgid(0, 0);
  if (!redirect_output(spec)) ::_exit(126);
  if (spec.close_other_fds && ::close_range(3, ~0U, 0) != 0)
    for (int i = 3; i < 4096; ++i) ::close(i);
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) ::_exit(126);
  if (!drop_credentials(spec)) ::_exit(126);
  // After setuid: changing credentials clears the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  ::execve(p.argv[0], p.argv.data(), p.envp.data());
  ::_exit(127);
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0) kill();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      own_group_(other.own_group_),
      last_exit_(std::move(other.last_exit_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) kill();
    pid_ = std::exchange(other.pid_, -1);
    own_group_ = other.own_group_;
    last_exit_ = std::move(other.last_exit_);
  }
  return *this;
}

Status ChildProcess::spawn(const ChildSpec& spec) {
  if (spec.argv.empty()) return Status::invalid_argument("child process: empty argv");
  if (pid_ > 0) kill();
  Prepared prepared = prepare(spec);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    return Status::unavailable("child process: fork for " + spec.argv[0] +
                               " failed: " + std::strerror(errno));
  if (pid == 0) run_child(spec, prepared, parent);
  pid_ = pid;
  own_group_ = spec.own_process_group;
  return {};
}

bool ChildProcess::signal(int sig) const {
  return pid_ > 0 && ::kill(pid_, sig) == 0;
}

ChildExit ChildProcess::reaped(std::optional<int> status) {
  ChildExit e;  // no status: reaped elsewhere, how it ended is unknown
  if (status && WIFEXITED(*status)) e.code = WEXITSTATUS(*status);
  if (status && WIFSIGNALED(*status)) e.signal = WTERMSIG(*status);
  pid_ = -1;
  last_exit_ = e;
  return e;
}

bool ChildProcess::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_)
    reaped(status);
  else if (r < 0)
    reaped(std::nullopt);  // not our child any more: gone
  return pid_ > 0;
}

std::optional<ChildExit> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (alive()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return last_exit_.value_or(ChildExit{});
}

ChildExit ChildProcess::kill() {
  if (pid_ <= 0) return last_exit_.value_or(ChildExit{});
  if (own_group_) ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return reaped(std::nullopt);
  return reaped(status);
}

ChildExit ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return last_exit_.value_or(ChildExit{});
  signal(SIGTERM);
  if (auto e = wait_for(grace)) return *e;
  return kill();
}

}  // namespace rpsync::test
