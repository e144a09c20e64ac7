#include "common/cli_common.hpp"

#include "common/flag_suggest.hpp"
#include "common/wording.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "tcpkit/util/display_width.hpp"

namespace tcpkit::cli {

int exit_code_for(const Error& error) {
  switch (error.code) {
    case ErrorCode::bad_input: return kExitUsage;
    case ErrorCode::privilege: return kExitPrivilege;
    case ErrorCode::system: return kExitSystem;
  }
  return kExitSystem;
}

void print_error(const std::string& tool, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", tool.c_str(), message.c_str());
}

void print_warning(const std::string& tool, const std::string& message) {
  if (!::isatty(STDERR_FILENO)) return print_error(tool, message);
  std::fprintf(stderr, "%s\n", wrap_cells(tool + ": " + message, kTerminalColumns, 2).c_str());
}

void warn_port_lookalike(const std::string& tool, const TargetSpec& spec) {
  if (!spec.port_lookalike) return;
  const std::string port = spec.host.substr(spec.port_lookalike->size() + 1);
  print_warning(tool, "'" + spec.text + "' is read as the IPv6 address " + spec.host + ", without a port; for port " +
                          port + " of " + *spec.port_lookalike + " write [" + *spec.port_lookalike + "]:" + port);
}

int usage_error(const std::string& tool, const std::string& message) {
  print_error(tool, message);
  return kExitUsage;
}

// Found: tcpstate --netns "" checked the caller's own namespace and passed; -I "" sent by the
// routing table. An unset shell variable ("$NS") must not read as the option left out.
const CLI::Validator kNonEmpty([](const std::string& value) { return value.empty() ? std::string("an empty value") : std::string(); },
                               "", "NONEMPTY");

std::optional<int> parse_command_line(CLI::App& app, const std::string& tool, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A mistyped flag is the likeliest cause of any parse error ("--cout 3" makes CLI11
    // complain about the operand 3 first): name it and the nearest real one.
    const std::string unknown = unknown_option_message(app, std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
    if (!unknown.empty()) return usage_error(tool, unknown + " (see --help)");
    // CLI11 would print two lines and exit 105/106; we print one and exit 2.
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    print_error(tool, what + " (see --help)");
    return kExitUsage;
  }
  return std::nullopt;
}

namespace {
std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_output_gone{false};
std::atomic<bool> g_hung_up{false};
bool g_stdout_closed = false;  // it was closed at the start, and /dev/null stands in for it
std::atomic<int> g_write_errno{0};  // the first failed write to stdout
FILE* g_plain_stdout = nullptr;     // the C library's own stdout, once replaced
int g_interrupt_fd = -1;

// Ends the process as `sig` would have, once the tool has stopped and cleaned up.
[[noreturn]] void die_of(int sig) {
  std::fflush(stderr);
  struct sigaction fatal {};
  fatal.sa_handler = SIG_DFL;
  ::sigaction(sig, &fatal, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
  // The default action ends the process inside raise(); whatever raise() returns, being here
  // after it means the signal did not end us: exit with the status a shell shows for it.
  (void)::raise(sig);
  ::_exit(128 + sig);
}

// stdout through a cookie that keeps the errno of a failed write: stdio keeps only a flag, and
// the write that failed may be long past when the run ends ("No space left on device").
ssize_t write_stdout_fd(void*, const char* data, size_t size) {
  int error = 0;
  const size_t done = write_until_error(STDOUT_FILENO, data, size, error);
  if (error != 0) {
    int expected = 0;
    g_write_errno.compare_exchange_strong(expected, error);
    // The reader went away: known now, not only when the watcher thread wakes, so that nothing
    // the tool says next ("interrupted after ...") goes to a terminal that asked for silence.
    if (error == EPIPE) note_output_gone();
  }
  return ssize_t(done);
}

void keep_write_errors() {
  FILE* out = ::fopencookie(nullptr, "w", cookie_io_functions_t{nullptr, write_stdout_fd, nullptr, nullptr});
  if (!out) return;  // plain stdout then: errors still seen, just not why
  // A terminal sees each line at once, as with stdio's own stdout; the tools flush elsewhere.
  if (::setvbuf(out, nullptr, ::isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, size_t{64} * 1024) != 0) {
    (void)std::fclose(out);  // unused: keep the plain stdout
    return;
  }
  g_plain_stdout = stdout;  // std::cout (CLI11's --help) still writes there
  stdout = out;
}

// What became of stdout decides the end: a reader that went away before we were done ends
// the process like SIGPIPE (as any writer cut short by `head`); any other write error (a full
// disk) is a system failure, said once.
int finish_output(const std::string& tool, int code) {
  errno = 0;
  bool flushed = std::fflush(stdout) == 0;
  bool written = flushed && !std::ferror(stdout);
  int e = errno ? errno : g_write_errno.load();
  if (g_plain_stdout && written) {
    flushed = std::fflush(g_plain_stdout) == 0;
    written = flushed && !std::ferror(g_plain_stdout);
    if (!written) e = errno;
  }
  // An earlier line's write may have failed with EPIPE before the watcher woke: ask the pipe.
  pollfd out{STDOUT_FILENO, 0, 0};
  const bool reader_gone = ::poll(&out, 1, 0) == 1 && (out.revents & (POLLERR | POLLHUP));
  if (output_gone() || e == EPIPE) die_of(SIGPIPE);
  if (written) return code;
  // After SIGHUP the terminal is gone (EIO, POLLHUP): nobody is left to tell, end as the hangup would.
  if (g_hung_up.load()) die_of(SIGHUP);
  if (reader_gone) die_of(SIGPIPE);
  print_error(tool, std::string("cannot write standard output") + (e ? std::string(": ") + std::strerror(e) : ""));
  return kExitSystem;
}
}  // namespace

namespace {
// A closed standard descriptor is taken by the first socket opened, and what is printed goes
// into that socket (found: with stdout closed, a netlink socket and an eventfd became fd 1 and
// the error read "Invalid argument"; a message to a closed stderr could reach a packet socket).
// Each one closed is filled with /dev/null. True when stdout was closed.
bool fill_closed_standard_descriptors() {
  bool stdout_closed = false;
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    if (fd == STDOUT_FILENO) stdout_closed = true;
    const int null = ::open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);  // the lowest free: fd
    if (null >= 0 && null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
  return stdout_closed;
}
}  // namespace

bool stdout_was_closed() { return g_stdout_closed; }

int refuse_closed_stdout(const std::string& tool) {
  print_error(tool, std::string("cannot write standard output: ") + std::strerror(EBADF));
  return kExitSystem;
}

int guarded_main(const std::string& tool, const std::function<int()>& body, bool results_may_go_elsewhere) {
  g_stdout_closed = fill_closed_standard_descriptors();
  // Before anything is sent: the results would have nowhere to go (a tool whose flags may send
  // them to a file decides once it has read them).
  if (g_stdout_closed && !results_may_go_elsewhere) return refuse_closed_stdout(tool);
  keep_write_errors();
  try {
    return finish_output(tool, body());
  } catch (const std::bad_alloc&) {
    // Most often an address-space limit (ulimit -v, prlimit --as): name it when there is one.
    // No allocation here: there may be no memory left for a std::string.
    rlimit as{};
    if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
      std::fprintf(stderr, "%s: out of memory (the address-space limit, ulimit -v, is %llu MiB)\n", tool.c_str(),
                   static_cast<unsigned long long>(as.rlim_cur >> 20));
    else
      std::fprintf(stderr, "%s: out of memory\n", tool.c_str());
  } catch (const std::exception& e) {
    print_error(tool, std::string("internal error: ") + e.what());
  } catch (...) {
    print_error(tool, "internal error");
  }
  return kExitSystem;
}

namespace {
void interrupt_now() {
  g_interrupted.store(true);
  if (g_interrupt_fd >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(g_interrupt_fd, &one, sizeof one);
  }
}

extern "C" void on_signal(int sig) {
  if (sig == SIGHUP) g_hung_up.store(true);
  interrupt_now();
}

// A pipe's write end reports POLLERR once no reader is left (a socket, POLLHUP): wait for it
// with no events asked, so the thread sleeps until then and costs nothing before.
extern "C" void* watch_stdout_reader(void*) {
  pollfd p{STDOUT_FILENO, 0, 0};
  for (;;) {
    const int n = ::poll(&p, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0 && (p.revents & (POLLERR | POLLHUP))) note_output_gone();
    return nullptr;  // gone, or stdout cannot be polled: nothing more to watch
  }
}

void start_reader_watch() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return;
  pthread_attr_t attr;
  if (::pthread_attr_init(&attr) != 0) return;
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ::pthread_attr_setstacksize(&attr, size_t{64} * 1024);  // it only polls: keep the RSS budget
  // The watcher takes no signal: SIGINT/SIGTERM stay with the threads that act on them.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_t thread;
  ::pthread_create(&thread, &attr, watch_stdout_reader, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::pthread_attr_destroy(&attr);
}
}  // namespace

size_t write_until_error(int fd, const char* data, size_t size, int& error) {
  size_t done = 0;
  error = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    done += size_t(n);
  }
  return done;
}

void note_output_gone() {
  g_output_gone.store(true);
  interrupt_now();
}

bool output_gone() { return g_output_gone.load(); }

bool output_lost() { return output_gone() || g_write_errno.load() != 0 || ::ferror_unlocked(stdout) != 0; }

void install_interrupt_handler() {
  if (g_interrupt_fd < 0) g_interrupt_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // SA_RESTART: a write to stdout cut by the signal resumes instead of failing with EINTR (stdio
  // would drop the line, and the run end "cannot write"). Waits that must wake use poll() on
  // interrupt_fd(), and poll() is never restarted.
  sa.sa_flags = SA_RESTART;
  // A closed terminal (SIGHUP) stops a tool like Ctrl-C: cleanup first, whatever can be said.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);  // a gone reader is seen as EPIPE (and by the watcher)
  static std::atomic<bool> watching{false};
  if (!watching.exchange(true)) start_reader_watch();
}

bool interrupted() {
  if (g_interrupted.load()) return true;
  // A write to stdout failed (a full disk): stop as after Ctrl-C; guarded_main says why. Unlocked:
  // a thread blocked writing to a stalled pipe holds the lock and must not block this one.
  if (::ferror_unlocked(stdout)) interrupt_now();
  return g_interrupted.load();
}
int interrupt_fd() { return g_interrupt_fd; }

bool sleep_until(std::chrono::steady_clock::time_point until) {
  while (!interrupted()) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    constexpr int64_t kNsPerSecond = 1'000'000'000;
    const timespec ts{time_t(left.count() / kNsPerSecond), long(left.count() % kNsPerSecond)};
    pollfd fd{interrupt_fd(), POLLIN, 0};
    ::ppoll(&fd, 1, &ts, nullptr);
  }
  return false;
}

bool has_cap_net_raw() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_RAW / 32].effective & (1u << (CAP_NET_RAW % 32))) != 0;
}

std::string net_raw_hint(const std::string& tool) {
  return "raw sockets need CAP_NET_RAW: run as root, or grant it once with "
         "'sudo setcap cap_net_raw+ep $(command -v " + tool + ")'";
}

tcpkit::Error with_bpf_hint(tcpkit::Error error, const std::string& tool) {
  if (error.code == tcpkit::ErrorCode::privilege)
    error.message += ": run as root, or grant them once with 'sudo setcap cap_bpf,cap_perfmon+ep $(command -v " + tool + ")'";
  return error;
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }
bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

namespace {
bool term_redraws() {
  const char* term = std::getenv("TERM");
  return term && *term && std::strcmp(term, "dumb") != 0;
}
}  // namespace

bool stdout_redraws() { return stdout_is_tty() && term_redraws(); }
bool stderr_redraws() { return stderr_is_tty() && term_redraws(); }


std::string choose_family(bool v4, bool v6, Family& family) {
  if (v4 && v6) return "-4 and -6 exclude each other";
  family = v4 ? Family::v4 : v6 ? Family::v6 : Family::any;
  return {};
}

std::string choose_format(bool json, bool csv, Format& format) {
  if (json && csv) return "--json and --csv exclude each other";
  format = json ? Format::json : csv ? Format::csv : Format::text;
  return {};
}

}  // namespace tcpkit::cli
