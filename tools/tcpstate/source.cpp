#include "source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/cli_common.hpp"
#include "common/wording.hpp"
#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/sockets/netstat_text.hpp"
#include "tcpkit/sockets/proc_net.hpp"
#include "tcpkit/sockets/sock_diag.hpp"
#include "tcpkit/sockets/socket_funnel.hpp"
#include "tcpkit/sockets/socket_owners.hpp"
#include "tcpkit/sockets/ss_text.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

// How much of the text one read(2) takes.
constexpr size_t kReadChunk = 1 << 16;

// Per-line warnings shown: enough to see what is wrong without burying the rest of stderr.
constexpr size_t kWarningsShown = 10;
// More malformed lines than sockets, and at least this many: the input is mostly not ss or
// netstat text, which the count of per-line warnings alone does not make plain.
constexpr size_t kMostlyMalformedAt = 10;

void print_warnings(const std::string& label, const TextParseReport& report) {
  const size_t shown = std::min(report.warnings.size(), kWarningsShown);
  for (size_t i = 0; i < shown; ++i)
    cli::print_error("tcpstate", label + ":" + std::to_string(report.warnings[i].line) + ": " + report.warnings[i].message +
                                     " (line skipped)");
  if (report.malformed > shown)
    cli::print_error("tcpstate", label + ": " + cli::count_text(report.malformed - shown, "more malformed line") + " skipped");
  if (report.malformed > report.sockets && report.malformed >= kMostlyMalformedAt)
    cli::print_error("tcpstate", label + ": most of the input was unreadable: " +
                                     cli::count_text(report.malformed, "malformed line") + " skipped, " +
                                     cli::count_text(report.sockets, "socket") + " read");
}

std::string examples(const NameTally& t) {
  std::string out;
  for (const auto& e : t.examples) out += (out.empty() ? "" : ", ") + e;
  return out + (t.sockets > t.examples.size() ? ", ..." : "");
}

// Said once, after the input: what was kept as a name, and what that does to the answers.
void print_name_notes(const std::string& label, const Options& o, const TextParseReport& r, size_t undecided) {
  auto note = [&](const std::string& m) { cli::print_error("tcpstate", label + ": " + m); };
  const bool cidr = !o.filter.local_nets.empty() || !o.filter.remote_nets.empty();
  const bool ports = !o.filter.local_ports.empty() || !o.filter.remote_ports.empty();
  if (r.host_names.sockets)
    note(cli::count_text(r.host_names.sockets, "socket") + (r.host_names.sockets == 1 ? " names" : " name") + " a host instead of an address (" + examples(r.host_names) +
         "), kept as names, not looked up: --src/--dst cannot match them; reports group them by name, and syn-flood counts named sources in no network");
  if (r.cut_endpoints.sockets)
    note(cli::count_text(r.cut_endpoints.sockets, "socket") + (r.cut_endpoints.sockets == 1 ? " has" : " have") + " an address or host name that fills netstat's 23 "
         "columns, so it may be cut (" + examples(r.cut_endpoints) + "): kept as printed, as a name, which --src/--dst cannot match; "
         "save with `netstat -W` to keep them whole");
  if (r.unknown_services.sockets)
    note(cli::count_text(r.unknown_services.sockets, "socket") + (r.unknown_services.sockets == 1 ? " has" : " have") + " a service name this machine's services database "
         "(/etc/services) does not know (" + examples(r.unknown_services) +
         "): kept as names; --sport/--dport cannot match them, and per-port rows count them as port 0");
  if (r.given_state_unused)
    note("--from-state " + std::string(state_ss_name(*o.from_state)) + " not used: the text has a State column, and each line's own "
         "state was read");
  if (r.rejoined_lines)
    note(cli::count_text(r.rejoined_lines, "line") + " wrapped (by fold or a terminal's copy) read whole again with the line above");
  if (r.owners_unreadable)
    note(cli::count_text(r.owners_unreadable, "socket") + (r.owners_unreadable == 1 ? " has" : " have") +
         " a process list (users:((...))) cut or unreadable, most often by a wrapped line: kept without their processes; "
         "save the text unwrapped (ss -tanp > file) to keep them");
  if (r.unknown_family)
    note(cli::count_text(r.unknown_family, "socket") + (r.unknown_family == 1 ? " has" : " have") + " host names at both ends (ss -r): their family is unknown; "
         "-4/-6 cannot match them and per-family counts show them as of unknown family");
  if (undecided)
    note(cli::count_text(undecided, "socket") + " left out: " + (cidr ? "--src/--dst" : "") + (cidr && ports ? ", " : "") +
         (ports ? "--sport/--dport" : "") + (o.filter.family != Family::any ? std::string(cidr || ports ? ", " : "") + "-4/-6" : "") +
         " could not be decided on their names");
}

// Said once, after the input: a capture in which the states that ss or netstat leave out
// without -a are all missing may have been saved so, and then reads as a host without them;
// a client's `ss -tan` has none of them either (found: the hint to save `ss -tan` on a file
// saved so), so both readings are said. Only
// where the answer counts or groups states (the listing shows what the capture holds), and not
// when the reader left before the end.
void print_missing_states_note(const std::string& label, const Options& o, const TextParseReport& r, bool ss) {
  const bool counts = o.report != Report::list || o.summary || o.by || o.check || o.output == Output::prometheus;
  if (!counts || r.sockets == 0 || (o.from_state && !r.given_state_unused) || cli::output_gone() || cli::interrupted())
    return;
  const StateSet& seen = r.states_seen;
  if (ss && !seen.contains(TcpState::listen) && !seen.contains(TcpState::syn_recv) && !seen.contains(TcpState::time_wait))
    cli::print_error("tcpstate", label + ": no LISTEN, SYN-RECV or TIME-WAIT line among " + cli::count_text(r.sockets, "socket") +
                                     ": either the host had none (a client that closed nothing first), or ss ran "
                                     "without -a, which leaves those states out (save `ss -tan`); time-wait, syn-flood "
                                     "and the service side of each connection need them");
  else if (!ss && !seen.contains(TcpState::listen))
    // netstat shows TIME_WAIT without -a too, so nothing tells its -a apart from a host that
    // listens on nothing (found: the hint to save `netstat -tan` on a file saved so, a client's).
    cli::print_error("tcpstate", label + ": no LISTEN line among " + cli::count_text(r.sockets, "socket") +
                                     ": either the host listened on nothing, or netstat ran without -a, which leaves "
                                     "listeners out (save `netstat -tan`); syn-flood and the service side of each "
                                     "connection need them");
}

// Splits what read(2) gives into lines and hands each on as soon as it is complete. A line
// longer than kMaxLine is cut there (it will not parse): binary input cannot grow memory.
class LineFeed {
 public:
  static constexpr size_t kMaxLine = 1 << 20;
  template <typename Fn>
  bool feed(std::string_view chunk, Fn&& line) {
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      const std::string_view piece = chunk.substr(0, nl);
      if (nl != std::string_view::npos && carry_.empty() && !skipping_) {
        if (!emit(piece, line)) return false;
      } else if (!skipping_) {
        carry_.append(piece.substr(0, kMaxLine - std::min(kMaxLine, carry_.size())));
        if (carry_.size() >= kMaxLine) skipping_ = nl == std::string_view::npos;
        if (nl != std::string_view::npos || skipping_) {
          if (!emit(carry_, line)) return false;
          carry_.clear();
        }
      } else if (nl != std::string_view::npos) {
        skipping_ = false;
      }
      if (nl == std::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
    }
    return true;
  }
  template <typename Fn>
  bool finish(Fn&& line) {
    if (carry_.empty()) return true;
    // A socket line has four fields or more; a shell prompt copied with the text has fewer.
    if (split_fields(carry_, 4).size() >= 4) unterminated_ = lines_ + 1;
    const bool go_on = emit(carry_, line);
    carry_.clear();
    return go_on;
  }
  // The number of the last line when it had no line end (0: it had one): the text may have
  // been cut there.
  size_t unterminated() const { return unterminated_; }

 private:
  template <typename Fn>
  bool emit(std::string_view l, Fn&& line) {
    ++lines_;
    return line(tcpkit::without_cr(l));  // the format detector sees lines as the parsers do
  }
  std::string carry_;
  bool skipping_ = false;
  size_t lines_ = 0, unterminated_ = 0;
};

// The text's lines, read as they arrive (a pipe from a live `ss` gives rows before its end).
// Before waiting for more input, idle() pushes out what the view has so far. Returns the
// number of the last line when the text ended without a line end after it (0 when not).
Result<size_t> read_lines(int fd, const std::string& label, const std::function<bool(std::string_view)>& line,
                          const std::function<void()>& idle) {
  LineFeed lines;
  std::vector<char> buf(kReadChunk);
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {cli::interrupt_fd(), POLLIN, 0}};
    int ready = ::poll(fds, 2, 0);
    if (ready == 0) {
      if (idle) idle();
      ready = ::poll(fds, 2, -1);
    }
    if (ready < 0 && errno != EINTR) return fail_errno("cannot read " + label, errno);
    if (cli::interrupted()) return 0;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(ErrorCode::bad_input, "cannot read " + label + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    if (!lines.feed(std::string_view(buf.data(), static_cast<size_t>(n)), line)) return 0;
  }
  lines.finish(line);
  return lines.unterminated();
}

// Lines kept while no line has shown whether the text is ss's or netstat's; then it is neither.
constexpr size_t kMaxUndecidedLines = 200;

// Feeds the text's lines to the parser its format calls for, holding the first lines until a
// line shows the format.
class TextFeed {
 public:
  TextFeed(const Options& o, const SocketSink& sink) : o_(o), sink_(sink) {
    if (o.source == Source::ss_text) format_ = SocketTextFormat::ss;
    else if (o.source == Source::netstat_text) format_ = SocketTextFormat::netstat;
    if (format_ != SocketTextFormat::unknown) start();
  }
  TextFeed(const TextFeed&) = delete;
  TextFeed& operator=(const TextFeed&) = delete;

  bool line(std::string_view l) {
    if (o_.source == Source::netstat_text && !netstat_seen_ && !split_fields(l, 1).empty()) {
      content_seen_ = true;
      netstat_seen_ = detect_socket_text_line(l) == SocketTextFormat::netstat;
    }
    if (ss_ || netstat_) return parse(l);
    early_.emplace_back(l);
    detect(l);
    if (format_ == SocketTextFormat::unknown) {
      unknown_format_ = early_.size() >= kMaxUndecidedLines;
      return !unknown_format_;
    }
    start();
    for (const auto& e : early_)
      if (!parse(e)) return false;
    early_.clear();
    return true;
  }

  void finish() {
    if (ss_ && !stopped_) ss_->finish();
  }

  // Whether the text as a whole can be shown, as bad input when not.
  Result<void> check(const std::string& label) const {
    // Ctrl-C, or the reader gone, before a line came: no text to judge (and nothing to say).
    if (!unknown_format_ && !ss_ && !netstat_ && cli::interrupted()) return {};
    if (unknown_format_ || (!ss_ && !netstat_))
      return fail(ErrorCode::bad_input, label + ": neither ss nor netstat output (save `ss -tan` or `netstat -tan`)");
    if (report_.state_column_missing)
      return fail(ErrorCode::bad_input, label + ": no State column: this is `ss ... state STATE` output; "
                                                "give its state with --from-state STATE (e.g. --from-state time-wait)");
    if (content_seen_ && !netstat_seen_ && report_.sockets == 0)
      return fail(ErrorCode::bad_input, label + ": no netstat output in it (save `netstat -tan`)");
    // Nothing readable: one line that names the first bad line, not one warning per line.
    if (report_.sockets == 0 && report_.malformed > 0) {
      std::string first;
      if (!report_.warnings.empty())
        first = " (line " + std::to_string(report_.warnings.front().line) + ": " + report_.warnings.front().message + ")";
      return fail(ErrorCode::bad_input, label + ": no socket could be read from " +
                                            cli::count_text(report_.malformed, "malformed line") + first);
    }
    return {};
  }

  const TextParseReport& report() const { return report_; }

  SourceInfo info() const {
    SourceInfo info;
    info.name = ss_ ? "ss" : "netstat";
    info.backlog_known = ss_.has_value();
    info.seen = report_.sockets;
    info.malformed = report_.malformed;
    return info;
  }

 private:
  void start() {
    if (format_ == SocketTextFormat::ss) ss_.emplace(sink_, report_, o_.from_state);
    else netstat_.emplace(sink_, report_);
  }

  bool parse(std::string_view l) { return !(stopped_ = !(ss_ ? ss_->line(l) : netstat_->line(l))); }

  void detect(std::string_view l) {
    const auto f = split_fields(l, 4);
    if (f.empty()) return;
    format_ = detect_socket_text_line(l);
    // `ss -H state X`: no header and no state, the line starts with Recv-Q Send-Q.
    if (format_ == SocketTextFormat::unknown && f.size() == 4 && parse_uint(f[0]) && parse_uint(f[1]) &&
        f[2].find(':') != std::string_view::npos)
      format_ = SocketTextFormat::ss;
  }

  const Options& o_;
  const SocketSink& sink_;
  SocketTextFormat format_ = SocketTextFormat::unknown;
  TextParseReport report_;
  std::optional<SsTextParser> ss_;
  std::optional<NetstatTextParser> netstat_;
  std::vector<std::string> early_;  // lines before the format shows (bounded)
  bool unknown_format_ = false, stopped_ = false;
  // --from-netstat on a file with no netstat line in it (binary junk, ss text): bad input,
  // not an empty table (the netstat parser skips what it does not know).
  bool netstat_seen_ = false, content_seen_ = false;
};

Result<SourceInfo> collect_text(const Options& o, const SocketSink& sink, const std::function<void()>& idle,
                                const size_t& undecided) {
  const std::string label = o.input == "-" ? "<stdin>" : o.input;
  UniqueFd file;  // stdin stays open
  if (o.input != "-") {
    file.reset(::open(o.input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file.valid()) return fail(ErrorCode::bad_input, "cannot open " + o.input + ": " + std::strerror(errno));
  }
  const int fd = file.valid() ? file.get() : STDIN_FILENO;
  TextFeed feed(o, sink);
  auto line = [&](std::string_view l) { return feed.line(l); };
  auto read = read_lines(fd, label, line, idle);
  if (!read) return tl::unexpected(read.error());
  feed.finish();
  if (auto ok = feed.check(label); !ok) return tl::unexpected(ok.error());
  print_warnings(label, feed.report());
  print_name_notes(label, o, feed.report(), undecided);
  const SourceInfo info = feed.info();
  if (const size_t second = feed.report().second_output_line)
    cli::print_error("tcpstate", label + ": a second " + info.name + " output begins at line " + std::to_string(second) +
                                     ": only the first, lines 1-" + std::to_string(second - 1) +
                                     ", was read (their sum is no host's state); split the file to read another");
  // ss and netstat end every line: a last line without one is where a copy or a transfer may
  // have cut the text, and a port cut short reads as another (found: 40000 read as port 4).
  if (*read && !feed.report().second_output_line && !cli::interrupted())
    cli::print_error("tcpstate", label + ":" + std::to_string(*read) + ": the text ends without a line end: it may "
                                     "have been cut there, and that line's last field cut short; check it");
  print_missing_states_note(label, o, feed.report(), info.name == "ss");
  return info;
}

Result<SourceInfo> collect_proc(const Options& o, const SocketSink& sink) {
  auto r = read_proc_net(o.filter.family != Family::v6, o.filter.family != Family::v4, sink);
  if (!r) return tl::unexpected(r.error());
  SourceInfo info;
  info.name = "proc";
  info.live = true;
  return info;
}

// sock_diag, with the states (and the ports in narrowing) applied by the kernel; the raw
// messages go to --save-netlink's file as they come.
Result<SourceInfo> collect_netlink(const Options& o, StateSet states, const KernelNarrowing& narrowing,
                                   const SocketSink& sink) {
  SockDiagQuery q;
  q.v4 = o.filter.family != Family::v6;
  q.v6 = o.filter.family != Family::v4;
  q.states = states;
  q.tcp_info = o.tcp_info;
  q.local_ports = narrowing.local_ports;
  q.remote_ports = narrowing.remote_ports;
  std::FILE* save = nullptr;
  if (!o.save_netlink.empty()) {
    save = std::fopen(o.save_netlink.c_str(), "wb");
    if (!save) return fail_errno("cannot write " + o.save_netlink, errno);
  }
  std::function<void(std::span<const uint8_t>)> tap;
  if (save) tap = [save](std::span<const uint8_t> chunk) { std::fwrite(chunk.data(), 1, chunk.size(), save); };
  auto r = dump_tcp_sockets(q, sink, tap);
  if (save && std::fclose(save) != 0 && r) return fail_errno("cannot write " + o.save_netlink, errno);
  if (!r) return tl::unexpected(r.error());
  SourceInfo info;
  info.name = "netlink";
  info.live = true;
  info.backlog_known = true;
  return info;
}

}  // namespace

void say_if_owners_denied(const SocketOwners& owners, size_t unowned) {
  // Said once: a "-" in the process column then reads as "not allowed to look", not as
  // "nobody holds it".
  if (!unowned || !owners.processes_denied() || cli::output_gone()) return;
  cli::print_error("tcpstate", "no process shown for " + cli::count_text(unowned, "socket") + ": /proc/PID/fd of " +
                                   cli::count_text(owners.processes_denied(), "process", "processes") +
                                   " could not be looked into (not root): run as root, as ss -p needs");
}

namespace {
bool g_owners_failed = false;
}  // namespace

SocketOwners scan_owners(const std::unordered_set<uint64_t>* wanted) {
  SocketOwners owners = SocketOwners::scan("/proc", wanted);
  static bool told = false;  // a --watch round scans again; once is enough
  if (!told && owners.proc_error() != 0) {
    told = true;
    g_owners_failed = true;
    cli::print_error("tcpstate", std::string("cannot read /proc: ") + std::strerror(owners.proc_error()) +
                                     "; sockets are shown without their processes");
  }
  return owners;
}

bool owners_failed() { return g_owners_failed; }

Result<SourceInfo> collect_sockets(const Options& o, StateSet view_states, bool need_processes, const SocketSink& sink,
                                   const KernelNarrowing& narrowing, const std::function<void()>& idle) {
  std::unique_ptr<SocketOwners> owners;
  const bool live = live_source(o);
  // Scanned at the first socket that passes, once the source is open: a source that cannot be
  // opened (EMFILE) is then the one line said, not a second one about /proc.
  const bool want_owners = live && (need_processes || o.processes);
  const OwnersGetter owners_now = [&]() -> const SocketOwners* {
    if (want_owners && !owners) owners = std::make_unique<SocketOwners>(scan_owners());
    return owners.get();
  };
  FunnelCounts counts;
  const SocketSink funnel = funnel_sockets(o.filter, view_states, owners_now, counts, sink);
  // Ctrl-C is looked at after every record, those the filter leaves out included.
  const SocketSink filtered = [&](SocketRecord& s) { return funnel(s) && !cli::interrupted(); };
  if (!live) return collect_text(o, filtered, idle, counts.undecided);
  auto info = o.source == Source::proc ? collect_proc(o, filtered)
                                       : collect_netlink(o, wanted_states(o.filter, view_states), narrowing, filtered);
  if (!info) return info;
  info->seen = counts.seen;
  if (owners) say_if_owners_denied(*owners, counts.unowned);
  return info;
}

}  // namespace tcpstate
