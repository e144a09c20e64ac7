#pragma once
// What every tool's main shares: exit codes, CLI11 error mapping, Ctrl-C, privilege checks.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/endpoint.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpkit::cli {

// The same codes in every tool (DESIGN.md, every man page).
enum ExitCode : int {
  kExitPositive = 0,   // answered / open / conformant / check passed
  kExitNegative = 1,   // no answer, closed, filtered, deviations, check failed
  kExitUsage = 2,      // usage or bad input
  kExitPrivilege = 3,  // missing capability
  kExitSystem = 4,     // environment or system failure
};

int exit_code_for(const Error& error);

// One line on stderr: "tool: message".
void print_error(const std::string& tool, const std::string& message);
// A warning for the person at the terminal ("tool: message"): on a terminal wrapped at 80
// display cells (continuation lines indented), elsewhere one line, as print_error.
void print_warning(const std::string& tool, const std::string& message);
// For a target like "fd00::2:80" (an IPv6 address, and perhaps [fd00::2]:80 without brackets):
// one warning line saying how it is read and how to write the other.
void warn_port_lookalike(const std::string& tool, const TargetSpec& spec);
// The same line, and the usage exit code (2) to return.
int usage_error(const std::string& tool, const std::string& message);

// For options that name something (an interface, a namespace, a file): an empty value is bad
// input, never the option left out.
extern const CLI::Validator kNonEmpty;

// Parses the command line. Returns std::nullopt to go on, or the exit code to return now:
// 0 after --help/--version, 2 (with one line on stderr) for any parse error.
std::optional<int> parse_command_line(CLI::App& app, const std::string& tool, int argc, char** argv);

// Runs body inside the tool's single top-level catch: no exception escapes as a stack trace.
// Then stdout is flushed. If output was lost because its reader went away, the process ends
// the way `yes | head` does once body has cleaned up: quietly, killed by SIGPIPE (shell status
// 141), whatever body returned. Output lost after SIGHUP (the terminal is gone) ends it the
// same way by SIGHUP (129). Any other write error (a full disk) is one line and exit 4.
// A closed stdout is refused at once (exit 4), unless results_may_go_elsewhere: then /dev/null
// stands in for it, and body decides with stdout_was_closed() (tcpscan -oX FILE >&- in cron).
int guarded_main(const std::string& tool, const std::function<int()>& body, bool results_may_go_elsewhere = false);
bool stdout_was_closed();
// "cannot write standard output: Bad file descriptor" on stderr; returns exit status 4.
int refuse_closed_stdout(const std::string& tool);

// SIGINT, SIGTERM and SIGHUP set a flag and make interrupt_fd() readable, so poll() loops wake
// up at once; a second signal changes nothing, so cleanup always runs to its end.
// When stdout is a pipe or socket, the reader going away (`tool | head -1`) does the same: a
// small watcher thread sees the pipe's POLLERR, sets output_gone() and interrupts, so every
// tool stops through its Ctrl-C path (cleanup included) within milliseconds, without waiting
// for its next write to fail with EPIPE. A failed write to stdout (a full disk) is seen by the
// next interrupted() call and stops the tool the same way.
void install_interrupt_handler();
bool interrupted();
int interrupt_fd();
// Waits until `until` or an interruption, whichever comes first (to the nanosecond: tcpprobe's
// intervals are timed by it); true when `until` was reached.
bool sleep_until(std::chrono::steady_clock::time_point until);
// Writes all of data to fd, or up to the first error (EINTR retried): the bytes written, never
// negative, with the error's errno in `error` (0 when all went). A fopencookie write function
// must not return a negative count: glibc's fwrite then takes -1 for "1 byte more to do" and
// reads past the end of the caller's buffer (a crash on `tcpstate --from BIG | head -1`).
size_t write_until_error(int fd, const char* data, size_t size, int& error);

// True once stdout's reader went away (or a write to stdout failed with EPIPE).
bool output_gone();
// Marks stdout as gone and interrupts; for a writer that saw EPIPE itself.
void note_output_gone();
// True once stdout takes nothing more: its reader went away or a write failed (a full disk).
// Then an interruption was not the user's, and "interrupted after ..." would mislead.
bool output_lost();

// Whether this process may open raw and packet sockets.
bool has_cap_net_raw();
// The message for a missing CAP_NET_RAW, naming the setcap line that grants it.
std::string net_raw_hint(const std::string& tool);
// The same for loading BPF programs (CAP_BPF and CAP_PERFMON), appended to the library's privilege
// error: "...: run as root, or grant them once with 'sudo setcap cap_bpf,cap_perfmon+ep ...'".
tcpkit::Error with_bpf_hint(tcpkit::Error error, const std::string& tool);

// True when stdout is a terminal (colour and progress lines only then).
bool stdout_is_tty();
bool stderr_is_tty();
// A terminal that takes cursor controls (a progress line redrawn in place, a cleared screen):
// a tty whose TERM is set and not "dumb" (found: the escapes written under TERM=dumb).
bool stdout_redraws();
bool stderr_redraws();


// The -4/-6 and --json/--csv choices every tool offers, checked the same way everywhere.
// Returns the usage message when both of a pair were given, else empty.
std::string choose_family(bool v4, bool v6, Family& family);
std::string choose_format(bool json, bool csv, Format& format);

}  // namespace tcpkit::cli
