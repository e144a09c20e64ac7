#include "text_format.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "common/wording.hpp"
#include "tcpkit/util/display_width.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpstate {

using namespace tcpkit;

void append_uint(std::string& out, uint64_t value) {
  char buf[24];
  char* p = buf + sizeof buf;
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value);
  out.append(p, static_cast<size_t>(buf + sizeof buf - p));
}

void append_endpoint(std::string& out, const IpAddress& address, uint16_t port, const std::string& interface) {
  if (address.is_v4()) {
    const uint8_t* b = address.data();
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      append_uint(out, b[i]);
    }
  } else {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
    out += '[';
    out += buf;
    out += ']';
  }
  if (!interface.empty()) {
    out += '%';
    out += interface;
  }
  out += ':';
  if (port == 0 && address.is_unspecified()) out += '*';
  else append_uint(out, port);
}

void pad_to(std::string& out, LineCells& line, size_t column) {
  // Cells, not bytes: a UTF-8 host or interface name must not shift the next column.
  const std::string_view piece = std::string_view(out).substr(line.measured_to);
  if (tcpkit::printable_ascii(piece)) {
    line.cells += piece.size();
  } else {
    line.ascii = false;
    line.cells += display_width(piece);
  }
  const size_t spaces = line.cells < column ? column - line.cells : 1;
  out.append(spaces, ' ');
  line.cells += spaces;
  line.measured_to = out.size();
}

void make_terminal_safe(std::string& out, size_t line_start, const LineCells& line) {
  if (line.ascii && tcpkit::printable_ascii(std::string_view(out).substr(line.measured_to))) return;
  const std::string_view text = std::string_view(out).substr(line_start);
  out.replace(line_start, std::string::npos, tcpkit::terminal_safe(text));
}

std::string endpoint_text(const IpAddress& address, uint16_t port, const std::string& interface) {
  std::string out;
  append_endpoint(out, address, port, interface);
  return out;
}

void append_named_endpoint(std::string& out, const IpAddress& address, uint16_t port, const std::string& interface,
                           const std::string& host, const std::string& service) {
  if (host.empty() && service.empty()) return append_endpoint(out, address, port, interface);
  std::string text = host.empty() ? endpoint_text(address, port, interface) : host + (interface.empty() ? "" : "%" + interface) + ":";
  if (host.empty()) text.erase(text.rfind(':') + 1);
  out += text;
  if (service.empty()) append_uint(out, port);
  else out += service;
}

std::string named_endpoint_text(const IpAddress& address, uint16_t port, const std::string& host, const std::string& interface) {
  std::string out;
  append_named_endpoint(out, address, port, interface, host, "");
  return out;
}

constexpr int64_t kMsPerSecond = 1000, kMsPerMinute = 60000;
constexpr double kUsPerMs = 1000.0;

std::string prose(std::string_view text, size_t indent) {
  return tcpkit::fold_cells(text, cli::kTerminalColumns, std::string(indent, ' '));
}

std::string duration_text(std::optional<int64_t> ms) {
  if (!ms) return "-";
  if (*ms < kMsPerSecond) return std::to_string(*ms) + "ms";
  if (*ms < kMsPerMinute) return format_fixed(static_cast<double>(*ms) / kMsPerSecond, 1) + "s";
  return std::to_string(*ms / kMsPerMinute) + "m" + std::to_string((*ms % kMsPerMinute) / kMsPerSecond) + "s";
}

std::string timer_text(const SocketRecord& s) {
  if (s.timer == TimerKind::none) return "-";
  std::string out(timer_name(s.timer));
  out += ':';
  out += duration_text(s.timer_ms);
  if (s.retransmits) out += "/" + std::to_string(s.retransmits);
  return out;
}

std::string info_text(const SocketRecord& s) {
  if (!s.info) return "";
  const auto& i = *s.info;
  // No round trip measured yet (SYN-SENT): none shown, as ss does (found: "rtt:0.000/250.000ms").
  std::string out = i.rtt_us ? "rtt:" + format_fixed(i.rtt_us / kUsPerMs, 3) + "/" +
                                   format_fixed(i.rttvar_us / kUsPerMs, 3) + "ms "
                             : "";
  out += "rto:" + std::to_string(i.rto_us / static_cast<uint32_t>(kUsPerMs)) + "ms";
  out += " cwnd:" + std::to_string(i.cwnd);
  if (i.ssthresh) out += " ssthresh:" + std::to_string(i.ssthresh);
  out += " mss:" + std::to_string(i.mss);
  out += " retrans:" + std::to_string(i.retrans) + "/" + std::to_string(i.total_retrans);
  if (i.unacked) out += " unacked:" + std::to_string(i.unacked);
  if (i.lost) out += " lost:" + std::to_string(i.lost);
  return out;
}

}  // namespace tcpstate
