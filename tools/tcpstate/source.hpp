#pragma once
// Where the sockets come from: the kernel (sock_diag or /proc/net/tcp) or saved ss/netstat
// text. Every source streams the same SocketRecord through the same filter.
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "options.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/sockets/socket_owners.hpp"
#include "tcpkit/sockets/socket_record.hpp"

namespace tcpstate {

struct SourceInfo {
  std::string name;            // "netlink", "proc", "ss", "netstat"
  bool live = false;           // this machine's kernel now (sysctls and counters apply)
  bool backlog_known = false;  // LISTEN Send-Q holds the backlog
  size_t seen = 0;             // sockets read before the filter
  size_t malformed = 0;        // text lines that were warned about
};

// This machine's kernel now (sock_diag or /proc), not saved text.
inline bool live_source(const Options& o) { return o.source == Source::netlink || o.source == Source::proc; }

// What a view may ask the kernel to leave out (sock_diag bytecode): sockets whose local port
// is outside local_ports, or whose remote port is not in remote_ports (when not empty). Only
// the netlink source applies it; views must give the same answer without it.
struct KernelNarrowing {
  std::optional<std::pair<uint16_t, uint16_t>> local_ports;
  std::vector<uint16_t> remote_ports;
};

// Reads the source once, passing each socket that matches options.filter (and view_states,
// the states the view needs) to sink. Process owners are looked up when need_processes and
// the source is live. Warnings about text lines go to stderr here. Saved text is read as it
// arrives; idle() is called before waiting for more of it (the list view flushes its rows).
tcpkit::Result<SourceInfo> collect_sockets(const Options& options, tcpkit::StateSet view_states, bool need_processes,
                                           const tcpkit::SocketSink& sink, const KernelNarrowing& narrowing = {},
                                           const std::function<void()>& idle = {});

// When owners could not look into some processes and `unowned` sockets got no process: one
// line on stderr saying why their process column is empty.
void say_if_owners_denied(const tcpkit::SocketOwners& owners, size_t unowned);

// SocketOwners::scan of /proc; says once per run on stderr when /proc itself cannot be read
// (processes denied one by one are said by say_if_owners_denied, which knows what is missing).
tcpkit::SocketOwners scan_owners(const std::unordered_set<uint64_t>* wanted = nullptr);
// True once /proc could not be read for the processes (said on stderr): the run exits 4.
bool owners_failed();

}  // namespace tcpstate
