#pragma once
// The kernel settings and counters tcpstate's reports quote: net.ipv4 sysctls and the TcpExt
// counters of /proc/net/netstat (both per network namespace).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tcpkit/util/error.hpp"

namespace tcpkit {

struct TcpSysctls {
  std::optional<long> tw_reuse;          // net.ipv4.tcp_tw_reuse (0, 1, 2 = loopback only)
  std::optional<long> max_tw_buckets;    // net.ipv4.tcp_max_tw_buckets
  std::optional<long> fin_timeout;       // net.ipv4.tcp_fin_timeout (FIN_WAIT_2, not TIME_WAIT)
  std::optional<long> rfc1337;           // net.ipv4.tcp_rfc1337 (0: an RST ends a TIME_WAIT early)
  std::optional<long> syncookies;        // net.ipv4.tcp_syncookies
  std::optional<long> max_syn_backlog;   // net.ipv4.tcp_max_syn_backlog
  std::optional<long> synack_retries;    // net.ipv4.tcp_synack_retries
  std::optional<long> somaxconn;         // net.core.somaxconn
  std::optional<long> port_range_low;    // net.ipv4.ip_local_port_range
  std::optional<long> port_range_high;
  // Linux's default ip_local_port_range, for when the sysctl cannot be read.
  static constexpr long kDefaultPortLow = 32768, kDefaultPortHigh = 60999;
  // The range, or Linux's default where it could not be read.
  long port_low() const { return port_range_low.value_or(kDefaultPortLow); }
  long port_high() const { return port_range_high.value_or(kDefaultPortHigh); }
  long port_range_size() const {
    return port_range_low && port_range_high && *port_range_high >= *port_range_low ? *port_range_high - *port_range_low + 1 : 0;
  }
};

// Reads them from /proc/sys (root: "/proc/sys"); a missing one stays empty.
TcpSysctls read_tcp_sysctls(const std::string& root = "/proc/sys");

// /proc/net/netstat and /proc/net/snmp text: "TcpExt: A B C" then "TcpExt: 1 2 3" pairs.
// Returns "TcpExt.ListenDrops" -> value, for every section. Malformed pairs are skipped.
std::map<std::string, uint64_t> parse_proc_counters(std::string_view text);

// /proc/net/netstat of the current namespace.
Result<std::map<std::string, uint64_t>> read_tcp_counters();

// /proc/net/sockstat's TCP line, "TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1". `alloc` counts the
// full TCP sockets of the whole host (every namespace: the kernel's one counter), the others
// the current namespace's. Empty when the line is missing or malformed.
struct SockstatTcp {
  uint64_t inuse = 0, orphan = 0, time_wait = 0, allocated = 0;
};
std::optional<SockstatTcp> parse_sockstat_tcp(std::string_view text);
Result<SockstatTcp> read_sockstat_tcp();

}  // namespace tcpkit
