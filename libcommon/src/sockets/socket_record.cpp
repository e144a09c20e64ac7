#include "tcpkit/sockets/socket_record.hpp"

#include <cctype>

#include "tcpkit/wire/service_names.hpp"

namespace tcpkit {

std::string_view timer_name(TimerKind t) {
  switch (t) {
    case TimerKind::none: return "off";
    case TimerKind::retransmit: return "on";
    case TimerKind::keepalive: return "keepalive";
    case TimerKind::time_wait: return "timewait";
    case TimerKind::zero_window_probe: return "persist";
    case TimerKind::unknown: return "unknown";
  }
  return "unknown";
}

std::optional<TimerKind> parse_timer_name(std::string_view text) {
  if (text == "off") return TimerKind::none;
  if (text == "on") return TimerKind::retransmit;
  if (text == "keepalive") return TimerKind::keepalive;
  if (text == "timewait") return TimerKind::time_wait;
  if (text == "persist" || text == "probe") return TimerKind::zero_window_probe;
  if (text == "unknown") return TimerKind::unknown;
  return std::nullopt;
}

std::string_view family_name(Family f) { return f == Family::v6 ? "ipv6" : "ipv4"; }

namespace {

enum class RecordForm { json, csv };

// The one form of a record, in two shapes: JSON nests the processes and TCP_INFO; CSV keeps
// one cell per column (processes as owners_text, the TCP_INFO fields most asked for).
Record record_of(const SocketRecord& s, RecordForm form) {
  Record r;
  if (form == RecordForm::json) r["type"] = "socket";
  r["state"] = state_name(s.state);
  if (s.family_known) r["family"] = family_name(s.family());
  // A name from saved text stands where the address or port would be: never a made-up number.
  if (s.local_host.empty()) r["local_address"] = s.local.to_string();
  else r["local_host"] = s.local_host;
  if (s.local_service.empty()) r["local_port"] = s.local_port;
  else r["local_service"] = s.local_service;
  if (s.remote_host.empty()) r["remote_address"] = s.remote.to_string();
  else r["remote_host"] = s.remote_host;
  if (s.remote_service.empty()) r["remote_port"] = s.remote_port;
  else r["remote_service"] = s.remote_service;
  if (!s.interface.empty()) r["interface"] = s.interface;
  r["recv_q"] = s.recv_q;
  r["send_q"] = s.send_q;
  r["timer"] = timer_name(s.timer);
  if (s.timer_ms) r["timer_ms"] = *s.timer_ms;
  r["retransmits"] = s.retransmits;
  if (s.uid) r["uid"] = *s.uid;
  if (s.inode) r["inode"] = *s.inode;
  if (!s.processes.empty() && form == RecordForm::csv) {
    r["processes"] = owners_text(s.processes);
  } else if (!s.processes.empty()) {
    Record list = Record::array();
    for (const auto& p : s.processes) {
      Record o;
      o["name"] = p.name;
      o["pid"] = p.pid;
      o["fd"] = p.fd;
      list.push_back(std::move(o));
    }
    r["processes"] = std::move(list);
  }
  if (s.info && form == RecordForm::csv) {
    r["rtt_us"] = s.info->rtt_us;
    r["cwnd"] = s.info->cwnd;
    r["total_retrans"] = s.info->total_retrans;
  } else if (s.info) {
    const auto& i = *s.info;
    Record o;
    o["rtt_us"] = i.rtt_us;
    o["rttvar_us"] = i.rttvar_us;
    o["rto_us"] = i.rto_us;
    o["cwnd"] = i.cwnd;
    if (i.ssthresh) o["ssthresh"] = i.ssthresh;
    o["mss"] = i.mss;
    o["retrans"] = i.retrans;
    o["total_retrans"] = i.total_retrans;
    o["unacked"] = i.unacked;
    o["lost"] = i.lost;
    o["bytes_acked"] = i.bytes_acked;
    o["bytes_received"] = i.bytes_received;
    r["info"] = std::move(o);
  }
  return r;
}

}  // namespace

Record to_record(const SocketRecord& s) { return record_of(s, RecordForm::json); }

Record to_csv_record(const SocketRecord& s) { return record_of(s, RecordForm::csv); }

const std::vector<std::string>& socket_csv_columns() {
  static const std::vector<std::string> columns = {
      "state",     "family", "local_address", "local_port", "remote_address", "remote_port", "interface",
      "recv_q",    "send_q", "timer",         "timer_ms",   "retransmits",    "uid",         "inode",
      "processes", "rtt_us", "cwnd",          "total_retrans", "local_host",  "remote_host", "local_service",
      "remote_service"};
  return columns;
}

std::string owners_text(const std::vector<ProcessRef>& owners) {
  if (owners.empty()) return "-";
  std::string out;
  for (const auto& p : owners) {
    if (!out.empty()) out += ',';
    out += p.name + "[" + std::to_string(p.pid) + "]";
    if (p.fd >= 0) out += "/" + std::to_string(p.fd);
  }
  return out;
}

void NameTally::add(std::string_view name) {
  ++sockets;
  if (examples.size() >= kExamples) return;
  for (const auto& e : examples)
    if (e == name) return;
  examples.emplace_back(name);
}

void TextParseReport::warn(size_t line, std::string message) {
  ++malformed;
  if (warnings.size() < kMaxWarnings) warnings.push_back({line, std::move(message)});
}

std::string_view without_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

void for_each_line(std::string_view text, const std::function<bool(size_t, std::string_view)>& fn,
                   bool strip_cr) {
  size_t number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (!fn(++number, strip_cr ? without_cr(line) : line)) return;
    start = end + 1;
  }
}

std::vector<std::string_view> split_fields(std::string_view line, size_t max_fields) {
  std::vector<std::string_view> out;
  split_fields(line, out, max_fields);
  return out;
}

void split_fields(std::string_view line, std::vector<std::string_view>& out, size_t max_fields) {
  out.clear();
  size_t i = 0;
  while (i < line.size() && out.size() < max_fields) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back(line.substr(start, i - start));
  }
}

// The digits of UINT64_MAX in decimal and in hex: a longer text cannot fit.
constexpr size_t kMaxDecimalDigits = 20, kMaxHexDigits = 16;

bool is_command_line(const std::vector<std::string_view>& fields, std::string_view program) {
  auto prompt = [](std::string_view f) { return !f.empty() && std::string_view("$#%>").find(f.back()) != std::string_view::npos; };
  for (size_t k = 1; k < fields.size(); ++k) {
    const std::string_view f = fields[k];
    const bool named = f == program || (f.size() > program.size() && f.substr(f.size() - program.size()) == program &&
                                        f[f.size() - program.size() - 1] == '/');
    if (!named) continue;
    return prompt(fields[k - 1]) || (fields[k - 1] == "sudo" && k >= 2 && prompt(fields[k - 2]));
  }
  return false;
}

std::optional<uint64_t> parse_uint(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > kMaxDecimalDigits) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<uint64_t> parse_hex(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > kMaxHexDigits) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return std::nullopt;
    value = value * 16 + static_cast<uint64_t>(digit);
  }
  if (value > max) return std::nullopt;
  return value;
}

namespace {

// What ss and netstat print for a resolved host ("web-1.example", "localhost", a name cut at
// the column width): letters, digits, '.', '-', '_'; a ':' would make it an address.
bool is_host_name(std::string_view s) {
  constexpr size_t kMaxHostName = 255;  // DNS's limit on a whole name
  if (s.empty() || s.size() > kMaxHostName) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

// A service name as /etc/services spells them ("http", "x11-1", "ms-sql-s", "sd/2").
bool is_service_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxServiceName) return false;
  bool letter = false;
  for (char c : s) {
    if (std::isalpha(static_cast<unsigned char>(c))) letter = true;
    else if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '+' && c != '/')
      return false;
  }
  return letter;
}

}  // namespace

std::optional<ParsedEndpoint> parse_text_endpoint(std::string_view text, Family star_family, ServiceNames* services) {
  ParsedEndpoint ep;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() == '%') {  // "[fe80::1]%eth0:22"
      const size_t colon = rest.rfind(':');
      if (colon == std::string_view::npos || colon < 2) return std::nullopt;
      ep.interface = std::string(rest.substr(1, colon - 1));
      rest = rest.substr(colon);
    }
    if (rest.size() < 2 || rest.front() != ':') return std::nullopt;
    port = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (const size_t pct = host.find('%'); pct != std::string_view::npos) {
    ep.interface = std::string(host.substr(pct + 1));
    host = host.substr(0, pct);
    if (ep.interface.empty()) return std::nullopt;
  }
  if (port == "*") {
    ep.port = 0;
  } else if (const auto p = parse_uint(port, UINT16_MAX)) {
    ep.port = static_cast<uint16_t>(*p);
  } else {
    if (!services || !is_service_name(port)) return std::nullopt;
    if (const auto named = services->port(port)) ep.port = *named;
    else ep.service_name = std::string(port);
  }
  if (host == "*") {
    ep.star_address = true;
    if (star_family == Family::v6) {
      const uint8_t zero[16] = {};
      ep.address = IpAddress::from_v6(zero);
    }
    return ep;
  }
  if (const auto address = IpAddress::parse(host)) {
    ep.address = *address;
    return ep;
  }
  if (!services || !is_host_name(host)) return std::nullopt;
  ep.host_name = std::string(host);
  if (star_family == Family::v6) {
    const uint8_t zero[16] = {};
    ep.address = IpAddress::from_v6(zero);
  }
  return ep;
}

void set_text_endpoints(SocketRecord& s, ParsedEndpoint& local, ParsedEndpoint& peer) {
  s.local = local.address;
  s.local_port = local.port;
  s.remote = peer.address;
  s.remote_port = peer.port;
  s.interface = !local.interface.empty() ? local.interface : peer.interface;
  s.local_host = std::move(local.host_name);
  s.remote_host = std::move(peer.host_name);
  s.local_service = std::move(local.service_name);
  s.remote_service = std::move(peer.service_name);
}

void tally_text_names(const SocketRecord& s, TextParseReport& report, bool count_host_names) {
  if (count_host_names && (!s.local_host.empty() || !s.remote_host.empty()))
    report.host_names.add(!s.remote_host.empty() ? s.remote_host : s.local_host);
  if (!s.local_service.empty() || !s.remote_service.empty())
    report.unknown_services.add(!s.remote_service.empty() ? s.remote_service : s.local_service);
  if (!s.family_known) ++report.unknown_family;
}

}  // namespace tcpkit
