#include "common/cli_common.hpp"

#include <linux/capability.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <exception>

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

int usage_error(const std::string& tool, const std::string& message) {
  print_error(tool, message);
  return kExitUsage;
}

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
    // CLI11 would print two lines and exit 105/106; we print one and exit 2.
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    print_error(tool, what + " (see --help)");
    return kExitUsage;
  }
  return std::nullopt;
}

int guarded_main(const std::string& tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    print_error(tool, "out of memory");
  } catch (const std::exception& e) {
    print_error(tool, std::string("internal error: ") + e.what());
  } catch (...) {
    print_error(tool, "internal error");
  }
  return kExitSystem;
}

namespace {
std::atomic<bool> g_interrupted{false};
int g_interrupt_fd = -1;

extern "C" void on_signal(int) {
  g_interrupted.store(true);
  if (g_interrupt_fd >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(g_interrupt_fd, &one, sizeof one);
  }
}
}  // namespace

void install_interrupt_handler() {
  if (g_interrupt_fd < 0) g_interrupt_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted.load(); }
int interrupt_fd() { return g_interrupt_fd; }

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

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }
bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }


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
