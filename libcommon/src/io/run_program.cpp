#include "tcpkit/io/run_program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

extern char** environ;

namespace tcpkit {

namespace {

// The child's stdin, stdout and stderr; [0] is the read end, [1] the write end.
struct Pipes {
  int in[2], out[2], err[2];
};

Result<Pipes> open_pipes(const std::string& name) {
  Pipes p;
  if (::pipe2(p.in, O_CLOEXEC) < 0) return fail_errno("pipe to " + name, errno);
  if (::pipe2(p.out, O_CLOEXEC) < 0) {
    ::close(p.in[0]), ::close(p.in[1]);
    return fail_errno("pipe to " + name, errno);
  }
  if (::pipe2(p.err, O_CLOEXEC) < 0) {
    for (int fd : {p.in[0], p.in[1], p.out[0], p.out[1]}) ::close(fd);
    return fail_errno("pipe to " + name, errno);
  }
  return p;
}

// Sets the child's signal state and process group (see inside for why).
void set_child_signals(posix_spawnattr_t& attr) {
  // The child must not inherit our Ctrl-C handling: default signal dispositions. And it runs
  // in a process group of its own, so a terminal's Ctrl-C or hangup (sent to our whole group)
  // cannot kill it half-way through (nft adding or removing a table): we stop it, after it ends.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  // Until the child has left our group, a signal sent to the group reaches it too, and stays
  // pending (the spawn blocks signals) until the mask is set: the child then runs with the
  // terminal's signals blocked, so one that came in that instant dies with it instead of killing
  // it (seen: a hangup 6 ms into tcpstray gave "nft: exit -1").
  sigset_t mask;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&mask, sig);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
}

// Starts the program on the pipes' child ends and closes those; on failure closes ours too.
Result<pid_t> spawn(const std::string& path, const std::vector<std::string>& args, const Pipes& p) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, p.in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, p.out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, p.err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  set_child_signals(attr);
  std::vector<char*> argv{const_cast<char*>(path.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(p.in[0]), ::close(p.out[1]), ::close(p.err[1]);
  if (rc != 0) {
    ::close(p.in[1]), ::close(p.out[0]), ::close(p.err[0]);
    return fail_errno("start " + path, rc);
  }
  return pid;
}

// Writes input to the child's stdin and reads its stdout and stderr until both end or the
// deadline passes (written as it reads: a child that answers before it has read everything
// cannot block us), then closes them. Returns how many outputs were still open (non-zero: the
// child did not finish in time).
int exchange(int in_fd, int out_fd, int err_fd, const std::string& input, std::chrono::milliseconds timeout,
             ProgramOutput& result) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t written = 0;
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  }
  pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const int n = ::poll(fds, 3, int(left.count()));
    if (n < 0 && errno == EINTR) continue;  // Ctrl-C while the child runs: let it finish
    if (n <= 0) break;
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t put = ::write(fds[2].fd, input.data() + written, input.size() - written);
      if (put > 0) written += size_t(put);
      if (put < 0 ? errno != EAGAIN : written == input.size()) {
        ::close(fds[2].fd);  // all written, or the child stopped reading
        fds[2].fd = -1;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, size_t(got));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  return open_fds;
}

}  // namespace

std::string find_program(std::initializer_list<const char*> paths) {
  for (const char* path : paths)
    if (::access(path, X_OK) == 0) return path;
  return {};
}

Result<ProgramOutput> run_program(const std::string& path, const std::vector<std::string>& args, const std::string& input,
                                  std::chrono::milliseconds timeout) {
  const std::string name = path.substr(path.rfind('/') + 1);
  auto pipes = open_pipes(name);
  if (!pipes) return tl::unexpected(pipes.error());
  auto pid = spawn(path, args, *pipes);
  if (!pid) return tl::unexpected(pid.error());
  ProgramOutput result;
  const int still_open = exchange(pipes->in[1], pipes->out[0], pipes->err[0], input, timeout, result);
  if (still_open > 0) ::kill(*pid, SIGKILL);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (still_open > 0)
    return fail(ErrorCode::system, name + " did not finish within " + std::to_string(timeout.count() / 1000) + " s");
  return result;
}

}  // namespace tcpkit
