#include "tcpkit/sockets/tcp_kernel_status.hpp"

#include "tcpkit/sockets/proc_net.hpp"
#include "tcpkit/sockets/socket_record.hpp"

namespace tcpkit {

namespace {

// The sysctls read here are C ints or smaller (at most 2^31 - 1): a number past this bound is
// no value of theirs, and any number under it fits a long.
constexpr uint64_t kMaxSysctlValue = uint64_t{1} << 40;
// The fields of one /proc/net/netstat line: TcpExt's has about 140 on 6.x kernels; this leaves
// room for the counters later kernels add.
constexpr size_t kMaxFieldsPerLine = 1024;

// The first one or two whole numbers of a sysctl file.
void read_numbers(const std::string& path, std::optional<long>& a, std::optional<long>* b = nullptr) {
  const auto text = read_text_file(path);
  if (!text) return;
  const auto f = split_fields(*text, 3);
  for (size_t i = 0; i < f.size(); ++i) {
    std::string_view v = f[i];
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
    const auto n = parse_uint(v, kMaxSysctlValue);
    if (!n) return;
    if (i == 0) a = static_cast<long>(*n);
    else if (i == 1 && b) *b = static_cast<long>(*n);
  }
}

}  // namespace

TcpSysctls read_tcp_sysctls(const std::string& root) {
  TcpSysctls s;
  read_numbers(root + "/net/ipv4/tcp_tw_reuse", s.tw_reuse);
  read_numbers(root + "/net/ipv4/tcp_max_tw_buckets", s.max_tw_buckets);
  read_numbers(root + "/net/ipv4/tcp_fin_timeout", s.fin_timeout);
  read_numbers(root + "/net/ipv4/tcp_rfc1337", s.rfc1337);
  read_numbers(root + "/net/ipv4/tcp_syncookies", s.syncookies);
  read_numbers(root + "/net/ipv4/tcp_max_syn_backlog", s.max_syn_backlog);
  read_numbers(root + "/net/ipv4/tcp_synack_retries", s.synack_retries);
  read_numbers(root + "/net/core/somaxconn", s.somaxconn);
  read_numbers(root + "/net/ipv4/ip_local_port_range", s.port_range_low, &s.port_range_high);
  return s;
}

std::map<std::string, uint64_t> parse_proc_counters(std::string_view text) {
  std::map<std::string, uint64_t> out;
  std::vector<std::string_view> names;
  std::string_view section;
  for_each_line(text, [&](size_t, std::string_view line) {
    const auto f = split_fields(line, kMaxFieldsPerLine);
    if (f.empty() || f[0].empty() || f[0].back() != ':') {
      names.clear();
      return true;
    }
    if (names.empty() || f[0] != section) {  // a header line
      section = f[0];
      names.assign(f.begin() + 1, f.end());
      return true;
    }
    if (f.size() == names.size() + 1) {
      const std::string prefix(section.substr(0, section.size() - 1));
      for (size_t i = 0; i < names.size(); ++i)
        if (auto v = parse_uint(f[i + 1])) out[prefix + "." + std::string(names[i])] = *v;
    }
    names.clear();
    return true;
  });
  return out;
}

Result<std::map<std::string, uint64_t>> read_tcp_counters() {
  auto text = read_text_file("/proc/net/netstat");
  if (!text) return tl::unexpected(text.error());
  return parse_proc_counters(*text);
}

std::optional<SockstatTcp> parse_sockstat_tcp(std::string_view text) {
  std::optional<SockstatTcp> out;
  for_each_line(text, [&](size_t, std::string_view line) {
    const auto f = split_fields(line, kMaxFieldsPerLine);
    if (f.empty() || f[0] != "TCP:" || f.size() % 2 == 0) return true;
    SockstatTcp t;
    int found = 0;
    for (size_t i = 1; i + 1 < f.size(); i += 2) {
      const auto v = parse_uint(f[i + 1]);
      if (!v) return true;
      uint64_t* slot = f[i] == "inuse" ? &t.inuse : f[i] == "orphan" ? &t.orphan : f[i] == "tw" ? &t.time_wait
                     : f[i] == "alloc" ? &t.allocated : nullptr;
      if (slot) {
        *slot = *v;
        ++found;
      }
    }
    if (found == 4) out = t;
    return !out;
  });
  return out;
}

Result<SockstatTcp> read_sockstat_tcp() {
  auto text = read_text_file("/proc/net/sockstat");
  if (!text) return tl::unexpected(text.error());
  auto t = parse_sockstat_tcp(*text);
  if (!t) return fail(ErrorCode::system, "/proc/net/sockstat has no TCP line");
  return *t;
}

}  // namespace tcpkit
