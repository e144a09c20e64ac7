#include "tcpkit/io/nft_guard.hpp"
#include "tcpkit/util/output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstdio>

extern char** environ;

namespace tcpkit {

namespace {

constexpr auto kNftTimeout = std::chrono::seconds(10);
constexpr size_t kNftDescriptors = 6;  // run_nft's three pipes

std::string find_nft() {
  for (const char* path : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"})
    if (::access(path, X_OK) == 0) return path;
  return {};
}

struct NftOutput {
  int status = -1;
  std::string out, err;
};

// nft's stdin, stdout and stderr; [0] is the read end, [1] the write end.
struct NftPipes {
  int in[2], out[2], err[2];
};

Result<NftPipes> open_pipes() {
  NftPipes p;
  if (::pipe2(p.in, O_CLOEXEC) < 0) return fail_errno("pipe to nft", errno);
  if (::pipe2(p.out, O_CLOEXEC) < 0) {
    ::close(p.in[0]), ::close(p.in[1]);
    return fail_errno("pipe to nft", errno);
  }
  if (::pipe2(p.err, O_CLOEXEC) < 0) {
    for (int fd : {p.in[0], p.in[1], p.out[0], p.out[1]}) ::close(fd);
    return fail_errno("pipe to nft", errno);
  }
  return p;
}

// Sets the child's signal state and process group (see inside for why).
void set_child_signals(posix_spawnattr_t& attr) {
  // The child must not inherit our Ctrl-C handling: default signal dispositions. And it runs
  // in a process group of its own, so a terminal's Ctrl-C or hangup (sent to our whole group)
  // cannot kill nft half-way through adding or removing the table: we stop it, after it ends.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  // Until the child has left our group, a signal sent to the group reaches it too, and stays
  // pending (the spawn blocks signals) until the mask is set: nft then runs with the terminal's
  // signals blocked, so one that came in that instant dies with it instead of killing it (seen:
  // a hangup 6 ms into tcpstray gave "nft: exit -1").
  sigset_t mask;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&mask, sig);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
}

// Starts nft on the pipes' child ends and closes those; on failure closes our ends too.
Result<pid_t> spawn_nft(const std::string& nft, const std::vector<std::string>& args, const NftPipes& p) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, p.in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, p.out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, p.err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  set_child_signals(attr);
  std::vector<char*> argv{const_cast<char*>(nft.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, nft.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(p.in[0]), ::close(p.out[1]), ::close(p.err[1]);
  if (rc != 0) {
    ::close(p.in[1]), ::close(p.out[0]), ::close(p.err[0]);
    return fail_errno("start " + nft, rc);
  }
  return pid;
}

// Reads nft's stdout and stderr until both end or the deadline passes, then closes them.
// Returns how many were still open (non-zero: nft did not finish in time).
int collect_output(int out_fd, int err_fd, NftOutput& result) {
  const auto deadline = std::chrono::steady_clock::now() + kNftTimeout;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    const int n = ::poll(fds, 2, int(left.count()));
    if (n < 0 && errno == EINTR) continue;  // Ctrl-C while the guard is set up or removed: finish it
    if (n <= 0) break;
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

// Runs nft with `input` on stdin, bounded in time; stdout and stderr are collected.
Result<NftOutput> run_nft(const std::vector<std::string>& args, const std::string& input) {
  const std::string nft = find_nft();
  if (nft.empty()) return fail(ErrorCode::system, "the nft program (nftables) is not installed");
  auto pipes = open_pipes();
  if (!pipes) return tl::unexpected(pipes.error());
  auto pid = spawn_nft(nft, args, *pipes);
  if (!pid) return tl::unexpected(pid.error());
  // nft reads a few hundred bytes at most: the pipe buffer holds them without blocking.
  if (!input.empty()) {
    [[maybe_unused]] ssize_t n = ::write(pipes->in[1], input.data(), input.size());
  }
  ::close(pipes->in[1]);
  NftOutput result;
  const int still_open = collect_output(pipes->out[0], pipes->err[0], result);
  if (still_open > 0) ::kill(*pid, SIGKILL);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (still_open > 0) return fail(ErrorCode::system, "nft did not finish within 10 s");
  return result;
}

tl::unexpected<Error> nft_failure(const std::string& what, const NftOutput& r) {
  std::string text = r.err;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (auto nl = text.find('\n'); nl != std::string::npos) text = text.substr(0, nl);
  if (text.find("Operation not permitted") != std::string::npos)
    return fail(ErrorCode::privilege, what + ": nftables needs CAP_NET_ADMIN (run as root)", EPERM);
  return fail(ErrorCode::system, what + ": nft: " + (text.empty() ? "exit " + std::to_string(r.status) : text));
}

bool pid_alive(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::string guard_table_name(int pid) { return std::string(kNftGuardPrefix) + std::to_string(pid); }

std::optional<int> guard_table_pid(std::string_view name) {
  if (name.substr(0, kNftGuardPrefix.size()) != kNftGuardPrefix) return std::nullopt;
  const std::string_view digits = name.substr(kNftGuardPrefix.size());
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  int pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  if (pid <= 0) return std::nullopt;
  return pid;
}

std::vector<std::string> parse_nft_inet_tables(std::string_view listing) {
  std::vector<std::string> names;
  while (!listing.empty()) {
    const size_t nl = listing.find('\n');
    std::string_view line = listing.substr(0, nl);
    listing = nl == std::string_view::npos ? std::string_view() : listing.substr(nl + 1);
    constexpr std::string_view kHead = "table inet ";
    if (line.substr(0, kHead.size()) != kHead) continue;
    std::string_view name = line.substr(kHead.size());
    while (!name.empty() && (name.back() == ' ' || name.back() == '\r' || name.back() == '{')) name.remove_suffix(1);
    if (!name.empty() && name.find(' ') == std::string_view::npos) names.emplace_back(name);
  }
  return names;
}

std::string guard_ruleset(const std::string& table, const NftGuardSpec& spec) {
  const std::string daddr = (spec.peer.is_v4() ? "ip daddr " : "ip6 daddr ") + spec.peer.to_string();
  char hex[8];
  const auto digits = std::to_chars(hex, hex + sizeof hex, spec.allow_mark, 16).ptr;  // 8 hex digits hold 32 bits
  const std::string mark = "0x" + std::string(size_t(hex + sizeof hex - digits), '0') + std::string(hex, digits);
  // "add + delete" first: a table left by a dead process that had our pid is replaced.
  return "add table inet " + table + "\n" + "delete table inet " + table + "\n" + "table inet " + table +
         " {\n"
         "  chain output {\n"
         "    type filter hook output priority 0; policy accept;\n"
         "    " + daddr + " tcp dport " + std::to_string(spec.peer_port) +
         " tcp flags & rst == rst meta mark != " + mark + " counter drop\n"
         "  }\n"
         "}\n";
}

Result<NftGuard> NftGuard::install(const NftGuardSpec& spec) {
  const std::string table = guard_table_name(int(::getpid()));
  NftGuard guard(table);  // from here on, its destructor removes the table
  auto r = run_nft({"-f", "-"}, guard_ruleset(table, spec));
  // nft refused the batch: nothing was added. Killed, timed out or not started: its batch may
  // have been committed all the same, and the guard goes out of scope trying to remove it.
  if (!r || r->status != 0) {
    if (r && r->status > 0) guard.table_.clear();
    if (!r) return tl::unexpected(r.error());
    return nft_failure("install the kernel-RST guard", *r);
  }
  // The descriptors that removing the table will need are kept from now on (install's own
  // pipes just gave them back): a run that then uses up its open-file limit can still remove it.
  if (!guard.take_reserve()) {
    const int e = errno;
    (void)guard.remove();
    return fail_errno("keep descriptors for removing the nftables guard", e);
  }
  return guard;
}

bool NftGuard::take_reserve() {
  const int base = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (base < 0) return false;
  reserve_.push_back(base);
  while (reserve_.size() < kNftDescriptors) {
    const int fd = ::fcntl(base, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return false;
    reserve_.push_back(fd);
  }
  return true;
}

NftGuard::NftGuard(NftGuard&& other) noexcept : table_(std::move(other.table_)), reserve_(std::move(other.reserve_)) {
  other.table_.clear();
  other.reserve_.clear();
}

NftGuard& NftGuard::operator=(NftGuard&& other) noexcept {
  if (this != &other) {
    (void)remove();
    table_ = std::move(other.table_);
    reserve_ = std::move(other.reserve_);
    other.table_.clear();
    other.reserve_.clear();
  }
  return *this;
}

NftGuard::~NftGuard() {
  (void)remove();
  release_reserve();
}

void NftGuard::release_reserve() {
  for (int fd : reserve_) ::close(fd);
  reserve_.clear();
}

Result<void> NftGuard::remove() {
  release_reserve();  // their slots are run_nft's now
  if (table_.empty()) return {};
  auto r = run_nft({"delete", "table", "inet", table_}, "");
  const std::string table = table_;
  table_.clear();
  if (!r) return tl::unexpected(r.error());
  if (r->status != 0) return nft_failure("remove nftables table " + table, *r);
  return {};
}

Result<std::vector<std::string>> remove_stale_guards() {
  auto listing = run_nft({"list", "tables"}, "");
  if (!listing) return tl::unexpected(listing.error());
  if (listing->status != 0) return nft_failure("list nftables tables", *listing);
  std::vector<std::string> removed;
  for (const auto& name : parse_nft_inet_tables(listing->out)) {
    const auto pid = guard_table_pid(name);
    if (!pid || *pid == int(::getpid()) || pid_alive(*pid)) continue;
    auto r = run_nft({"delete", "table", "inet", name}, "");
    if (!r) return tl::unexpected(r.error());
    if (r->status == 0) removed.push_back(name);
  }
  return removed;
}

}  // namespace tcpkit
