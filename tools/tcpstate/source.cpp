#include "source.hpp"

#include <cstdio>
#include <memory>

#include "common/cli_common.hpp"
#include "tcpkit/netstat_text.hpp"
#include "tcpkit/proc_net.hpp"
#include "tcpkit/sock_diag.hpp"
#include "tcpkit/socket_owners.hpp"
#include "tcpkit/ss_text.hpp"

namespace tcpstate {

using namespace tcpkit;

namespace {

StateSet intersect(StateSet a, StateSet b) {
  StateSet out;
  for (TcpState s : kAllTcpStates)
    if (a.contains(s) && b.contains(s)) out.add(s);
  return out;
}

// The whole saved text, from a file or stdin. Unreadable input is bad input (exit 2).
Result<std::string> read_input(const std::string& path) {
  if (path == "-") {
    std::string out;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) out.append(buf, n);
    if (std::ferror(stdin)) return fail(ErrorCode::bad_input, "cannot read standard input");
    return out;
  }
  auto text = read_text_file(path);
  if (!text) return fail(ErrorCode::bad_input, text.error().message);
  return text;
}

void print_warnings(const std::string& label, const TextParseReport& report) {
  for (const auto& w : report.warnings)
    cli::print_error("tcpstate", label + ":" + std::to_string(w.line) + ": " + w.message + " (line skipped)");
  if (report.malformed > report.warnings.size())
    cli::print_error("tcpstate", label + ": " + std::to_string(report.malformed - report.warnings.size()) +
                                     " more malformed lines skipped");
}

Result<SourceInfo> collect_text(const Options& o, const SocketSink& sink) {
  auto text = read_input(o.input);
  if (!text) return tl::unexpected(text.error());
  const std::string label = o.input == "-" ? "<stdin>" : o.input;
  SocketTextFormat format = SocketTextFormat::unknown;
  if (o.source == Source::ss_text) format = SocketTextFormat::ss;
  else if (o.source == Source::netstat_text) format = SocketTextFormat::netstat;
  else format = detect_socket_text_format(*text);
  if (format == SocketTextFormat::unknown)
    return fail(ErrorCode::bad_input, label + ": neither ss nor netstat output (save `ss -tan` or `netstat -tan`)");
  SourceInfo info;
  info.name = format == SocketTextFormat::ss ? "ss" : "netstat";
  info.backlog_known = format == SocketTextFormat::ss;
  TextParseReport report;
  if (format == SocketTextFormat::ss) parse_ss_text(*text, sink, report);
  else parse_netstat_text(*text, sink, report);
  print_warnings(label, report);
  info.seen = report.sockets;
  info.malformed = report.malformed;
  if (report.sockets == 0 && report.malformed > 0)
    return fail(ErrorCode::bad_input, label + ": no socket could be read from " + std::to_string(report.malformed) +
                                          " malformed lines");
  return info;
}

}  // namespace

Result<SourceInfo> collect_sockets(const Options& o, StateSet view_states, bool need_processes, const SocketSink& sink,
                                   const KernelNarrowing& narrowing) {
  const StateSet wanted = intersect(o.filter.states, view_states);
  size_t seen = 0;
  std::unique_ptr<SocketOwners> owners;
  const bool live = o.source == Source::netlink || o.source == Source::proc;
  if (live && (need_processes || o.processes)) owners = std::make_unique<SocketOwners>(SocketOwners::scan());
  const SocketSink filtered = [&](SocketRecord& s) {
    ++seen;
    if (!wanted.contains(s.state) || !o.filter.matches(s)) return !cli::interrupted();
    if (owners && s.inode)
      if (const auto* found = owners->find(*s.inode)) s.processes = *found;
    return sink(s) && !cli::interrupted();
  };
  if (!live) return collect_text(o, filtered);

  SourceInfo info;
  info.live = true;
  if (o.source == Source::proc) {
    info.name = "proc";
    const bool v4 = o.filter.family != Family::v6, v6 = o.filter.family != Family::v4;
    auto r = read_proc_net(v4, v6, filtered);
    if (!r) return tl::unexpected(r.error());
    info.seen = seen;
    return info;
  }
  info.name = "netlink";
  info.backlog_known = true;
  SockDiagQuery q;
  q.v4 = o.filter.family != Family::v6;
  q.v6 = o.filter.family != Family::v4;
  q.states = wanted;
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
  auto r = dump_tcp_sockets(q, filtered, tap);
  if (save && std::fclose(save) != 0 && r) return fail_errno("cannot write " + o.save_netlink, errno);
  if (!r) return tl::unexpected(r.error());
  info.seen = seen;
  return info;
}

}  // namespace tcpstate
