#include "tcpkit/netstat_text.hpp"

#include <cmath>

namespace tcpkit {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

struct Columns {
  bool user_inode = false;  // -e
  bool program = false;     // -p
  bool timer = false;       // -o
};

// "on (1.47/1/0)" -> kind, ms left, retransmits.
bool parse_timer(std::string_view kind, std::string_view values, SocketRecord& s) {
  const auto k = parse_timer_name(kind);
  if (!k || values.size() < 3 || values.front() != '(' || values.back() != ')') return false;
  values = values.substr(1, values.size() - 2);
  const size_t s1 = values.find('/');
  if (s1 == std::string_view::npos) return false;
  const size_t s2 = values.find('/', s1 + 1);
  const std::string_view secs = values.substr(0, s1);
  const size_t dot = secs.find('.');
  const auto whole = parse_uint(secs.substr(0, dot), 1u << 30);
  if (!whole) return false;
  double ms = static_cast<double>(*whole) * 1000;
  if (dot != std::string_view::npos) {
    const std::string_view frac = secs.substr(dot + 1);
    const auto f = parse_uint(frac, 999999);
    if (!f || frac.size() > 6) return false;
    ms += static_cast<double>(*f) * 1000 / std::pow(10.0, static_cast<double>(frac.size()));
  }
  const auto retrans = parse_uint(values.substr(s1 + 1, s2 == std::string_view::npos ? std::string_view::npos : s2 - s1 - 1), UINT32_MAX);
  if (!retrans) return false;
  s.timer = *k;
  s.timer_ms = (*k == TimerKind::none) ? std::optional<int64_t>() : static_cast<int64_t>(std::llround(ms));
  s.retransmits = static_cast<uint32_t>(*retrans);
  return true;
}

void parse_line(size_t number, std::string_view line, const Columns& columns, const SocketSink& sink,
                TextParseReport& report, bool& go_on) {
  const auto f = split_fields(line);
  if (f.empty()) {
    ++report.skipped;
    return;
  }
  if (f[0] != "tcp" && f[0] != "tcp6") {  // headers, udp, unix, raw: not TCP sockets
    ++report.skipped;
    return;
  }
  if (f.size() < 6) return report.warn(number, "expected Recv-Q, Send-Q, local and foreign address and state");
  SocketRecord s;
  const auto rq = parse_uint(f[1], UINT32_MAX);
  const auto sq = parse_uint(f[2], UINT32_MAX);
  if (!rq || !sq) return report.warn(number, "Recv-Q and Send-Q must be numbers");
  s.recv_q = static_cast<uint32_t>(*rq);
  s.send_q = static_cast<uint32_t>(*sq);
  const Family family = f[0] == "tcp6" ? Family::v6 : Family::v4;
  const auto local = parse_text_endpoint(f[3], family);
  const auto peer = parse_text_endpoint(f[4], family);
  if (!local) return report.warn(number, "unreadable local address '" + std::string(f[3].substr(0, 60)) + "' (cut by netstat? use -W)");
  if (!peer) return report.warn(number, "unreadable foreign address '" + std::string(f[4].substr(0, 60)) + "' (cut by netstat? use -W)");
  if (local->address.family() != peer->address.family())
    return report.warn(number, "local and foreign addresses are of different families");
  s.local = local->address;
  s.local_port = local->port;
  s.remote = peer->address;
  s.remote_port = peer->port;
  s.interface = local->interface;
  const auto state = parse_tcp_state(f[5]);
  if (!state) return report.warn(number, "unknown TCP state '" + std::string(f[5].substr(0, 40)) + "'");
  s.state = *state;
  size_t next = 6;
  if (columns.user_inode) {
    if (f.size() < 8) return report.warn(number, "missing User and Inode columns");
    if (auto uid = parse_uint(f[6], UINT32_MAX)) s.uid = static_cast<uint32_t>(*uid);
    const auto inode = parse_uint(f[7]);
    if (!inode) return report.warn(number, "Inode must be a number");
    s.inode = *inode;
    next = 8;
  }
  size_t end = f.size();  // fields [next, end) are the program column
  const bool timer_here = columns.timer || (f.size() >= next + 2 && f.back().size() > 2 && f.back().front() == '(' &&
                                            f.back().back() == ')' && parse_timer_name(f[f.size() - 2]));
  if (timer_here) {
    if (f.size() < next + 2) return report.warn(number, "missing Timer column");
    if (!parse_timer(f[f.size() - 2], f.back(), s))
      return report.warn(number, "unreadable timer '" + std::string(f[f.size() - 2].substr(0, 20)) + " " +
                                     std::string(f.back().substr(0, 40)) + "'");
    end = f.size() - 2;
  }
  if (end > next) {
    // The program column is "PID/name" where name may hold spaces: take the raw text.
    const size_t from = static_cast<size_t>(f[next].data() - line.data());
    const size_t to = static_cast<size_t>(f[end - 1].data() + f[end - 1].size() - line.data());
    const std::string_view program = line.substr(from, to - from);
    if (program != "-") {
      const size_t slash = program.find('/');
      const auto pid = slash == std::string_view::npos ? std::nullopt : parse_uint(program.substr(0, slash), INT32_MAX);
      if (!pid) return report.warn(number, "unreadable PID/Program name '" + std::string(program.substr(0, 60)) + "'");
      s.processes.push_back(ProcessRef{std::string(program.substr(slash + 1)), static_cast<int>(*pid), -1});
    }
  }
  ++report.sockets;
  go_on = sink(s);
}

}  // namespace

void parse_netstat_text(std::string_view text, const SocketSink& sink, TextParseReport& report) {
  Columns columns;
  bool go_on = true;
  for_each_line(text, [&](size_t number, std::string_view line) {
    ++report.lines;
    if (starts_with(line, "Proto ")) {
      columns.user_inode = line.find(" User ") != std::string_view::npos && line.find(" Inode") != std::string_view::npos;
      columns.program = line.find("PID/Program name") != std::string_view::npos;
      columns.timer = line.find(" Timer") != std::string_view::npos;
      ++report.skipped;
      return true;
    }
    parse_line(number, line, columns, sink, report, go_on);
    return go_on;
  });
}

SocketTextFormat detect_socket_text_format(std::string_view text) {
  SocketTextFormat found = SocketTextFormat::unknown;
  int looked = 0;
  for_each_line(text, [&](size_t, std::string_view line) {
    const auto f = split_fields(line, 8);
    if (f.empty()) return true;
    if (++looked > 50) return false;
    if (f[0] == "Active" || f[0] == "Proto") found = SocketTextFormat::netstat;
    else if (f[0] == "State" || f[0] == "Netid" || f[0] == "Recv-Q") found = SocketTextFormat::ss;
    else if ((f[0] == "tcp" || f[0] == "tcp6") && f.size() >= 6 && parse_tcp_state(f[5])) found = SocketTextFormat::netstat;
    else if (parse_tcp_state(f[0]) || (f.size() > 1 && f[0] == "tcp" && parse_tcp_state(f[1]))) found = SocketTextFormat::ss;
    return found == SocketTextFormat::unknown;
  });
  return found;
}

}  // namespace tcpkit
