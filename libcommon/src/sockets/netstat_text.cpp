#include "tcpkit/sockets/netstat_text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "tcpkit/wire/service_names.hpp"

namespace tcpkit {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

struct Columns {
  bool user_inode = false;  // -e
  bool program = false;     // -p
  bool timer = false;       // -o
};

constexpr double kMsPerSecond = 1000;
// Bounds on the timer's seconds: whole seconds no timer reaches, and microsecond precision.
constexpr uint64_t kMaxTimerSeconds = 1u << 30;
constexpr size_t kMaxFractionDigits = 6;
constexpr uint64_t kMaxFraction = 999999;

// "on (1.47/1/0)" -> kind, ms left, and the count: retransmissions, or the probes sent (the
// third number) for a keepalive or zero-window probe timer.
bool parse_timer(std::string_view kind, std::string_view values, SocketRecord& s) {
  const auto k = parse_timer_name(kind);
  if (!k || values.size() < 3 || values.front() != '(' || values.back() != ')') return false;
  values = values.substr(1, values.size() - 2);
  const size_t s1 = values.find('/');
  if (s1 == std::string_view::npos) return false;
  const size_t s2 = values.find('/', s1 + 1);
  const std::string_view secs = values.substr(0, s1);
  const size_t dot = secs.find('.');
  const auto whole = parse_uint(secs.substr(0, dot), kMaxTimerSeconds);
  if (!whole) return false;
  double ms = static_cast<double>(*whole) * kMsPerSecond;
  if (dot != std::string_view::npos) {
    const std::string_view frac = secs.substr(dot + 1);
    const auto f = parse_uint(frac, kMaxFraction);
    if (!f || frac.size() > kMaxFractionDigits) return false;
    ms += static_cast<double>(*f) * kMsPerSecond / std::pow(10.0, static_cast<double>(frac.size()));
  }
  const auto retrans = parse_uint(values.substr(s1 + 1, s2 == std::string_view::npos ? std::string_view::npos : s2 - s1 - 1), UINT32_MAX);
  if (!retrans) return false;
  std::optional<uint64_t> probes = 0;  // busybox and old net-tools may print two numbers
  if (s2 != std::string_view::npos) probes = parse_uint(values.substr(s2 + 1), UINT32_MAX);
  if (!probes) return false;
  s.timer = *k;
  s.timer_ms = (*k == TimerKind::none) ? std::optional<int64_t>() : static_cast<int64_t>(std::llround(ms));
  s.retransmits = timer_count(*k, static_cast<uint32_t>(*retrans), static_cast<uint32_t>(*probes));
  return true;
}

// net-tools netstat (without -W) cuts "host:service" at 23 characters, cutting the host: such
// an endpoint is exactly 23 long. An IPv6 literal there may be cut yet still parse (to another
// address), so on IPv6 lines it is kept as a cut name; a cut name is kept as it is. busybox
// pads its fields to 23 but never cuts them (::ffff:10.0.0.1:40000 is 23 long and whole).
constexpr size_t kColumn = 23;

// The fields of a netstat line; User and Inode only with -e.
constexpr size_t kProto = 0, kRecvQ = 1, kSendQ = 2, kLocal = 3, kForeign = 4, kState = 5, kUser = 6, kInode = 7;

// How much of an unreadable field a warning quotes: enough to find it, never a whole line.
constexpr size_t kQuotedTimerKind = 20;
constexpr size_t kQuotedState = 40;
constexpr size_t kQuotedField = 60;

// A text that is netstat's or ss's shows it within this many non-empty lines (headers first).
constexpr int kLinesToDetect = 50;

bool hex_colons(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  return true;
}

IpAddress zero_of(Family f) {
  const uint8_t zero[16] = {};
  return f == Family::v6 ? IpAddress::from_v6(zero) : IpAddress::from_v4(zero);
}

}  // namespace

struct NetstatTextParser::Impl {
  Impl(SocketSink sink, TextParseReport& report) : sink_(std::move(sink)), report_(report) {}

  bool line(std::string_view line) {
    const size_t number = ++number_;
    ++report_.lines;
    // What netstat prints above its header, and the command a user copied: where an output
    // begins, for the note that names a second one.
    if (starts_with(line, "Active Internet") || is_command_line(split_fields(line), "netstat")) {
      if (!preamble_) preamble_ = number;
      ++report_.skipped;
      return true;
    }
    if (starts_with(line, "Proto ")) {
      // A header after sockets: a second netstat output, whose sum with the first is no host's
      // state. The first alone is read.
      if (report_.sockets > 0 && starts_with(line, "Proto Recv-Q")) {  // not -a's UNIX socket section
        report_.second_output_line = preamble_ ? preamble_ : number;
        return false;
      }
      preamble_ = 0;
      columns_.user_inode = line.find(" User ") != std::string_view::npos && line.find(" Inode") != std::string_view::npos;
      columns_.program = line.find("PID/Program name") != std::string_view::npos;
      columns_.timer = line.find(" Timer") != std::string_view::npos;
      ++report_.skipped;
      return true;
    }
    if (!split_fields(line, 1).empty()) preamble_ = 0;
    return parse_line(number, line);
  }

 private:
  // An endpoint of a line of the given family; cut is set when the host was cut by netstat.
  // `cut` is set when the endpoint may be cut at the column width; `cut_literals` counts the
  // endpoints whose "host name" is an IPv6 address netstat cut (no name was ever there).
  std::optional<ParsedEndpoint> endpoint(std::string_view text, Family family, bool& cut, int& cut_literals) {
    auto ep = parse_text_endpoint(text, family, &services_);
    const size_t colon = text.rfind(':');
    const std::string_view host = colon == std::string_view::npos ? text : text.substr(0, colon);
    // Only net-tools cuts: once the text shows it is busybox's, every field is whole.
    const bool may_be_cut = text.size() == kColumn && !busybox_;
    if (!ep) {
      // "2001:db8:1234:5678:9:443": an IPv6 address cut short.
      if (busybox_ || family != Family::v6 || colon == std::string_view::npos || !hex_colons(host)) return std::nullopt;
      auto port_only = parse_text_endpoint("*" + std::string(text.substr(colon)), family, &services_);
      if (!port_only) return std::nullopt;
      ep = std::move(port_only);
      ep->star_address = false;
      ep->host_name = std::string(host);
      cut = true;
      ++cut_literals;
    } else if (may_be_cut && !ep->address.is_v4() && ep->host_name.empty() && !ep->star_address) {
      ep->host_name = std::string(host);  // a 23-column IPv6 literal: perhaps cut
      cut = true;
      ++cut_literals;
    } else if (may_be_cut && !ep->host_name.empty()) {
      cut = true;
    }
    if (!ep->host_name.empty()) ep->address = zero_of(family);
    else if (family == Family::v6 && ep->address.is_v4()) ep->address = ep->address.mapped();  // tcp6 line
    return ep;
  }

  // The local and foreign address columns; cut is set when netstat cut a host. False after a warning.
  bool read_addresses(size_t number, const std::vector<std::string_view>& f, SocketRecord& s, bool& cut,
                      int& cut_literals) {
    // busybox prints "tcp" for IPv6 sockets too, after the IPv4 ones: an IPv6 address on a
    // "tcp" line says the rest of the text is IPv6.
    if (f[kProto] == "tcp" && !busybox_)
      for (size_t k : {kLocal, kForeign}) {
        const size_t colon = f[k].rfind(':');
        if (colon != std::string_view::npos && f[k].substr(0, colon).find(':') != std::string_view::npos)
          busybox_ = true;
      }
    const Family family = (f[kProto] == "tcp6" || busybox_) ? Family::v6 : Family::v4;
    auto local = endpoint(f[kLocal], family, cut, cut_literals);
    auto peer = endpoint(f[kForeign], family, cut, cut_literals);
    if (!local) return warn_false(number, "unreadable local address '" + std::string(f[kLocal].substr(0, kQuotedField)) + "'");
    if (!peer) return warn_false(number, "unreadable foreign address '" + std::string(f[kForeign].substr(0, kQuotedField)) + "'");
    if (local->address.family() != peer->address.family())
      return warn_false(number, "local and foreign addresses are of different families");
    set_text_endpoints(s, *local, *peer);
    return true;
  }

  // -e's User and Inode columns; `next` moves past them. False after a warning.
  bool read_user_inode(size_t number, const std::vector<std::string_view>& f, SocketRecord& s, size_t& next) {
    if (!columns_.user_inode) return true;
    if (f.size() <= kInode) return warn_false(number, "missing User and Inode columns");
    if (auto uid = parse_uint(f[kUser], UINT32_MAX)) s.uid = static_cast<uint32_t>(*uid);
    const auto inode = parse_uint(f[kInode]);
    if (!inode) return warn_false(number, "Inode must be a number");
    s.inode = *inode;
    next = kInode + 1;
    return true;
  }

  // -o's Timer column, the last two fields, when the header or the fields' look says it is
  // there; `end` moves before it. False after a warning.
  bool read_timer(size_t number, const std::vector<std::string_view>& f, size_t next, SocketRecord& s, size_t& end) {
    const bool timer_here = columns_.timer || (f.size() >= next + 2 && f.back().size() > 2 && f.back().front() == '(' &&
                                              f.back().back() == ')' && parse_timer_name(f[f.size() - 2]));
    if (!timer_here) return true;
    if (f.size() < next + 2) return warn_false(number, "missing Timer column");
    if (!parse_timer(f[f.size() - 2], f.back(), s))
      return warn_false(number, "unreadable timer '" + std::string(f[f.size() - 2].substr(0, kQuotedTimerKind)) + " " +
                                    std::string(f.back().substr(0, kQuotedState)) + "'");
    end = f.size() - 2;
    return true;
  }

  // -p's column, fields [next, end): "PID/name" where name may hold spaces, so the raw text is
  // taken from the line. False after a warning.
  bool read_program(size_t number, std::string_view line, const std::vector<std::string_view>& f, size_t next, size_t end,
                    SocketRecord& s) {
    if (end <= next) return true;
    const size_t from = static_cast<size_t>(f[next].data() - line.data());
    const size_t to = static_cast<size_t>(f[end - 1].data() + f[end - 1].size() - line.data());
    const std::string_view program = line.substr(from, to - from);
    if (program == "-") return true;
    const size_t slash = program.find('/');
    const auto pid = slash == std::string_view::npos ? std::nullopt : parse_uint(program.substr(0, slash), INT32_MAX);
    if (!pid) return warn_false(number, "unreadable PID/Program name '" + std::string(program.substr(0, kQuotedField)) + "'");
    s.processes.push_back(ProcessRef{std::string(program.substr(slash + 1)), static_cast<int>(*pid), -1});
    return true;
  }

  bool parse_line(size_t number, std::string_view line) {
    const auto f = split_fields(line);
    if (f.empty()) {
      ++report_.skipped;
      return true;
    }
    if (f[kProto] != "tcp" && f[kProto] != "tcp6") {  // headers, udp, unix, raw: not TCP sockets
      ++report_.skipped;
      return true;
    }
    if (f.size() <= kState) return warn(number, "expected Recv-Q, Send-Q, local and foreign address and state");
    SocketRecord s;
    const auto rq = parse_uint(f[kRecvQ], UINT32_MAX);
    const auto sq = parse_uint(f[kSendQ], UINT32_MAX);
    if (!rq || !sq) return warn(number, "Recv-Q and Send-Q must be numbers");
    s.recv_q = static_cast<uint32_t>(*rq);
    s.send_q = static_cast<uint32_t>(*sq);
    bool cut = false;
    int cut_literals = 0;
    if (!read_addresses(number, f, s, cut, cut_literals)) return true;
    const auto state = parse_tcp_state(f[kState]);
    if (!state) return warn(number, "unknown TCP state '" + std::string(f[kState].substr(0, kQuotedState)) + "'");
    s.state = *state;
    size_t next = kState + 1;
    size_t end = f.size();  // fields [next, end) are the program column
    if (!read_user_inode(number, f, s, next) || !read_timer(number, f, next, s, end) ||
        !read_program(number, line, f, next, end, s))
      return true;
    if (cut) report_.cut_endpoints.add(!s.local_host.empty() && f[kLocal].size() == kColumn ? s.local_host : s.remote_host);
    // A cut address is no host name: the note on cut endpoints says what it is.
    const int names = int(!s.local_host.empty()) + int(!s.remote_host.empty());
    tally_text_names(s, report_, names > cut_literals);
    ++report_.sockets;
    report_.states_seen.add(s.state);
    return sink_(s);
  }

  bool warn(size_t number, std::string message) {
    report_.warn(number, std::move(message));
    return true;
  }

  // The same, for the steps of a line, whose false ends it.
  bool warn_false(size_t number, std::string message) {
    report_.warn(number, std::move(message));
    return false;
  }

  SocketSink sink_;
  TextParseReport& report_;
  ServiceNames services_;
  Columns columns_;
  size_t number_ = 0;
  size_t preamble_ = 0;  // the line of a command or "Active Internet" above a header to come
  // An IPv6 address on a "tcp" line: busybox's text (net-tools says tcp6), from here on IPv6.
  bool busybox_ = false;
};

NetstatTextParser::NetstatTextParser(SocketSink sink, TextParseReport& report)
    : impl_(std::make_unique<Impl>(std::move(sink), report)) {}
NetstatTextParser::~NetstatTextParser() = default;
// Lines fed one by one end like those of parse_netstat_text: a saved CRLF file reads the same.
bool NetstatTextParser::line(std::string_view text) { return impl_->line(without_cr(text)); }


void parse_netstat_text(std::string_view text, const SocketSink& sink, TextParseReport& report) {
  NetstatTextParser parser(sink, report);
  for_each_line(text, [&](size_t, std::string_view line) { return parser.line(line); }, false);
}

SocketTextFormat detect_socket_text_line(std::string_view line) {
  const auto f = split_fields(line, 8);
  if (f.empty()) return SocketTextFormat::unknown;
  if (f[0] == "Active" || f[0] == "Proto") return SocketTextFormat::netstat;
  if (f[0] == "State" || f[0] == "Netid" || f[0] == "Recv-Q") return SocketTextFormat::ss;
  if ((f[0] == "tcp" || f[0] == "tcp6") && f.size() >= 6 && parse_tcp_state(f[5])) return SocketTextFormat::netstat;
  if (parse_tcp_state(f[0]) || (f.size() > 1 && f[0] == "tcp" && parse_tcp_state(f[1]))) return SocketTextFormat::ss;
  return SocketTextFormat::unknown;
}

SocketTextFormat detect_socket_text_format(std::string_view text) {
  SocketTextFormat found = SocketTextFormat::unknown;
  int looked = 0;
  for_each_line(text, [&](size_t, std::string_view line) {
    if (split_fields(line, 1).empty()) return true;
    if (++looked > kLinesToDetect) return false;
    found = detect_socket_text_line(line);
    return found == SocketTextFormat::unknown;
  });
  return found;
}

}  // namespace tcpkit
