#include "tcpkit/sockets/proc_net.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "tcpkit/io/unique_fd.hpp"

namespace tcpkit {

namespace {

// USER_HZ on every Linux architecture: the unit of /proc/net/tcp's "when", if sysconf fails.
constexpr int64_t kUserHz = 100;
// /proc/net/tcp's columns up to the inode (the last one read), and how many are split off.
constexpr size_t kProcFieldsNeeded = 10, kProcFieldsSplit = 12;
// Read sizes: a socket table in big blocks (a line is ~150 bytes); sysctl-sized files in small.
constexpr size_t kTableBlock = 1 << 18, kFileBlock = 1 << 16;

// "0100007F:0016": words in host byte order, port in hex.
bool parse_address(std::string_view text, bool v6, IpAddress& address, uint16_t& port) {
  const size_t colon = text.find(':');
  const size_t hex_len = v6 ? 32 : 8;  // two hex digits per address byte
  if (colon != hex_len || text.size() < colon + 2) return false;
  const auto p = parse_hex(text.substr(colon + 1), 0xFFFF);
  if (!p) return false;
  port = static_cast<uint16_t>(*p);
  uint8_t bytes[16];
  for (size_t w = 0; w < hex_len / 8; ++w) {
    const auto word = parse_hex(text.substr(w * 8, 8), 0xFFFFFFFFu);
    if (!word) return false;
    const uint32_t value = static_cast<uint32_t>(*word);
    std::memcpy(bytes + w * 4, &value, 4);  // the kernel printed the word in host order
  }
  address = v6 ? IpAddress::from_v6(bytes) : IpAddress::from_v4(bytes);
  return true;
}

}  // namespace

std::optional<SocketRecord> parse_proc_net_line(std::string_view line, bool v6, long ticks_per_second) {
  // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
  const auto f = split_fields(line, kProcFieldsSplit);
  if (f.size() < kProcFieldsNeeded || f[0].empty() || f[0].back() != ':') return std::nullopt;
  SocketRecord s;
  if (!parse_address(f[1], v6, s.local, s.local_port)) return std::nullopt;
  if (!parse_address(f[2], v6, s.remote, s.remote_port)) return std::nullopt;
  const auto st = parse_hex(f[3], 0xFF);
  if (!st) return std::nullopt;
  const auto state = state_from_kernel(static_cast<int>(*st));
  if (!state) return std::nullopt;
  s.state = *state;
  const size_t q = f[4].find(':');
  if (q == std::string_view::npos) return std::nullopt;
  const auto tx = parse_hex(f[4].substr(0, q), 0xFFFFFFFFu);
  const auto rx = parse_hex(f[4].substr(q + 1), 0xFFFFFFFFu);
  if (!tx || !rx) return std::nullopt;
  s.send_q = static_cast<uint32_t>(*tx);
  s.recv_q = static_cast<uint32_t>(*rx);
  const size_t t = f[5].find(':');
  if (t == std::string_view::npos) return std::nullopt;
  const auto tr = parse_hex(f[5].substr(0, t), 0xFF);
  // "when" is a signed clock_t printed as %08lx: a timer already due prints a large value.
  const auto when = parse_hex(f[5].substr(t + 1));
  if (!tr || !when) return std::nullopt;
  switch (*tr) {
    case 0: s.timer = TimerKind::none; break;
    case 1: s.timer = TimerKind::retransmit; break;
    case 2: s.timer = TimerKind::keepalive; break;
    case 3: s.timer = TimerKind::time_wait; break;
    case 4: s.timer = TimerKind::zero_window_probe; break;
    default: s.timer = TimerKind::unknown; break;
  }
  if (s.timer != TimerKind::none) {
    const int64_t ticks = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(*when)));
    const int64_t tps = ticks_per_second > 0 ? ticks_per_second : kUserHz;
    s.timer_ms = ticks < 0 ? 0 : ticks * 1000 / tps;
  }
  const auto retr = parse_hex(f[6], 0xFFFFFFFFu);
  const auto uid = parse_uint(f[7], UINT32_MAX);
  const auto probes = parse_uint(f[8], UINT32_MAX);  // "timeout": icsk_probes_out, in decimal
  const auto inode = parse_uint(f[9]);
  if (!retr || !uid || !probes || !inode) return std::nullopt;
  s.retransmits = timer_count(s.timer, static_cast<uint32_t>(*retr), static_cast<uint32_t>(*probes));
  s.uid = static_cast<uint32_t>(*uid);
  s.inode = *inode;
  return s;
}

namespace {

// One line of a /proc/net/tcp{,6} table: skips the header, warns about malformed lines.
bool proc_line(size_t number, std::string_view line, bool v6, const SocketSink& sink, TextParseReport& report,
               long ticks_per_second) {
  ++report.lines;
  const auto f = split_fields(line, 2);
  if (f.empty() || f[0] == "sl") {
    ++report.skipped;
    return true;
  }
  auto s = parse_proc_net_line(line, v6, ticks_per_second);
  if (!s) {
    report.warn(number, "unreadable /proc/net/tcp" + std::string(v6 ? "6" : "") + " line");
    return true;
  }
  ++report.sockets;
  return sink(*s);
}

// The one read(2) loop: hands each block of the file to chunk until the end, or until chunk
// returns false.
Result<void> read_blocks(const std::string& path, size_t block_size, const std::function<bool(std::string_view)>& chunk) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("cannot open " + path, errno);
  std::vector<char> buf(block_size);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("cannot read " + path, errno);
    }
    if (n == 0 || !chunk(std::string_view(buf.data(), static_cast<size_t>(n)))) return {};
  }
}

// Streams a /proc table in blocks, so memory does not grow with the number of sockets.
Result<void> stream_proc_file(const std::string& path, bool v6, const SocketSink& sink, TextParseReport& report,
                              long ticks_per_second, bool& go_on) {
  std::string pending;
  size_t number = 0;
  auto read = read_blocks(path, kTableBlock, [&](std::string_view block) {
    pending.append(block);
    size_t start = 0;
    for (size_t nl; go_on && (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      go_on = proc_line(++number, std::string_view(pending).substr(start, nl - start), v6, sink, report, ticks_per_second);
    pending.erase(0, start);
    return go_on;
  });
  if (!read) return read;
  if (go_on && !pending.empty()) go_on = proc_line(++number, pending, v6, sink, report, ticks_per_second);
  return {};
}

}  // namespace

void parse_proc_net_text(std::string_view text, bool v6, const SocketSink& sink, TextParseReport& report,
                         long ticks_per_second) {
  for_each_line(text, [&](size_t number, std::string_view line) {
    return proc_line(number, line, v6, sink, report, ticks_per_second);
  });
}

Result<std::string> read_text_file(const std::string& path) {
  std::string out;
  auto read = read_blocks(path, kFileBlock, [&](std::string_view block) {
    out.append(block);
    return true;
  });
  if (!read) return tl::unexpected(read.error());
  return out;
}

Result<TextParseReport> read_proc_net(bool want_v4, bool want_v6, const SocketSink& sink) {
  TextParseReport report;
  const long tps = ::sysconf(_SC_CLK_TCK);
  bool go_on = true;
  if (want_v4)
    if (auto r = stream_proc_file("/proc/net/tcp", false, sink, report, tps, go_on); !r) return tl::unexpected(r.error());
  if (want_v6 && go_on)
    if (auto r = stream_proc_file("/proc/net/tcp6", true, sink, report, tps, go_on); !r && r.error().err_no != ENOENT)
      return tl::unexpected(r.error());  // no tcp6 when IPv6 is disabled: not an error
  return report;
}

}  // namespace tcpkit
