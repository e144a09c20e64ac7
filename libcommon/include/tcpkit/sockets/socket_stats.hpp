#pragma once
// The analyses behind tcpstate's views, fed one socket record at a time (whatever the source):
// per-state counts, top-N groups, TIME_WAIT per destination, SYN_RECV per listener with a
// flood verdict, CLOSE_WAIT per process and port, and --max thresholds.
#include <array>
#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/sockets/socket_filter.hpp"
#include "tcpkit/sockets/socket_record.hpp"
#include "tcpkit/sockets/tcp_kernel_status.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

using PerState = std::array<uint64_t, kTcpStateCount>;

// Counts per state and family; sockets of unknown family (saved text with host names at both
// ends) apart, never guessed into IPv4 or IPv6.
struct StateCounts {
  PerState v4{};
  PerState v6{};
  PerState unknown{};
  void add(const SocketRecord& s) {
    (!s.family_known ? unknown : s.family() == Family::v6 ? v6 : v4)[state_index(s.state)]++;
  }
  uint64_t get(TcpState s) const { return v4[state_index(s)] + v6[state_index(s)] + unknown[state_index(s)]; }
  uint64_t total() const;
  uint64_t unknown_total() const;
};

// --by: what to group on.
enum class GroupBy { peer, remote_port, local_port, process };
std::optional<GroupBy> parse_group_by(std::string_view text);
std::string_view group_by_name(GroupBy g);

struct GroupRow {
  std::string key;
  uint64_t total = 0;
  PerState states{};
};

// --by peer and remote-port put listening sockets under this key: they have no peer.
inline constexpr std::string_view kListenersKey = "(listening)";
// --by local-port and remote-port put every ephemeral port of a connection's client end under
// this key: one row per connection would say nothing, and churn as a Prometheus label.
inline constexpr std::string_view kEphemeralKey = "ephemeral";

// Which end of a connection offers the service. A server's sockets are grouped per client
// address and local service port, a client's per remote address:port, so that no ephemeral
// port (one row per connection) ever becomes a key.
enum class ConnectionRole : uint8_t {
  server,  // the local end is the service (its port listens here, or lies outside the range)
  client,  // the remote end is the service
};
std::string_view role_name(ConnectionRole r);  // "server", "client"

// Whether the sockets given hold every listener of the host: a live dump whose filter keeps
// them (LISTEN among its states, no address or remote-port part), or saved text that has one
// LISTEN line at least (ss and netstat list them with -a, as the usual -tan does).
enum class ListenerList : uint8_t { partial, complete, complete_if_any };
ListenerList listener_list(const SocketFilter& filter, bool live_source);

// Decides the role from the local listening ports and ip_local_port_range: the local end is
// the service when its port listens here; otherwise the end whose port lies outside the
// ephemeral range (connect() picked the other one); when both or neither do, the `repeated`
// end when one is known (PortRepeats); else the remote end when every listener is known
// (ListenerList), the local port is none of them and the remote port lies below IANA's dynamic
// range (a client bound to a reserved port, as NFS's 665-1023 towards 2049, was read as the
// server by the lower port); else the lower port.
inline constexpr uint16_t kIanaDynamicLow = 49152;
class ServiceSide {
 public:
  ServiceSide(long port_low, long port_high) : low_(port_low), high_(port_high) {}
  void add_listener(uint16_t port) {
    listening_[port] = true;
    any_listener_ = true;
  }
  void set_listener_list(ListenerList list) { listener_list_ = list; }
  bool listeners_known() const {
    return listener_list_ == ListenerList::complete || (listener_list_ == ListenerList::complete_if_any && any_listener_);
  }
  bool listening(uint16_t port) const { return listening_[port]; }
  bool ephemeral(uint16_t port) const { return port >= low_ && port <= high_; }
  // Listener and range leave the role open: PortRepeats may tell.
  bool open(uint16_t local_port, uint16_t remote_port) const {
    return !listening(local_port) && ephemeral(local_port) == ephemeral(remote_port);
  }
  ConnectionRole role(uint16_t local_port, uint16_t remote_port,
                      std::optional<ConnectionRole> repeated = std::nullopt) const;
  long low() const { return low_; }
  long high() const { return high_; }

 private:
  long low_, high_;
  std::vector<bool> listening_ = std::vector<bool>(65536, false);
  bool any_listener_ = false;
  ListenerList listener_list_ = ListenerList::partial;
};

// A socket's owners as one --by process key: "nginx[100]"; a socket shared after fork is one
// key for its owners together, "nginx[100,101]" or "python3[5]+sh[9]"; "-" without any.
std::string owners_key(const std::vector<ProcessRef>& processes);

// --by: the top groups with their per-state counts. Ports are keyed by role (ServiceSide, once
// every listener is known): a service port is its own key, a client end's ephemeral port is
// kEphemeralKey, on either side of the connection.
class GroupCounter {
 public:
  explicit GroupCounter(GroupBy by, long port_low = TcpSysctls::kDefaultPortLow,
                        long port_high = TcpSysctls::kDefaultPortHigh)
      : by_(by), side_(port_low, port_high) {}
  void add(const SocketRecord& s);
  void set_listener_list(ListenerList list) { side_.set_listener_list(list); }
  // The n largest groups, by total then key.
  std::vector<GroupRow> top(size_t n) const;
  size_t groups() const { return rows().size(); }

 private:
  using Rows = std::unordered_map<std::string, GroupRow>;
  static void add_key(Rows& rows, const std::string& key, TcpState state, uint64_t n = 1);
  // peer and process: rows_ as added; ports: ports_ keyed once every listener is known (on the
  // first call after an add).
  const Rows& rows() const;
  GroupBy by_;
  ServiceSide side_;
  Rows rows_;                                      // peer and process
  // ports: (the two hosts, (local port, remote port, state)) -> sockets; the hosts are kept
  // for the rule of the repeated port (PortRepeats).
  struct PortsKey {
    uint64_t pair, ports_state;
    bool operator==(const PortsKey&) const = default;
  };
  struct PortsKeyHash {
    size_t operator()(const PortsKey& k) const { return size_t(k.pair ^ (k.ports_state * 0x9e3779b97f4a7c15ull)); }
  };
  std::unordered_map<PortsKey, uint64_t, PortsKeyHash> ports_;
  mutable std::optional<Rows> ports_keyed_;  // ports_ keyed; reset by add()
};

// Between the same two hosts a client takes a new port for each connection while the service
// keeps its own: of connections whose ports leave the role open (a service inside the
// ephemeral range, as FTP data, RPC and RMI ports are), the end whose port repeats while the
// other's does not is the service. `pair` names the two hosts (any hash of them).
class PortRepeats {
 public:
  void add(uint64_t pair, uint16_t local_port, uint16_t remote_port);
  std::optional<ConnectionRole> role(uint64_t pair, uint16_t local_port, uint16_t remote_port) const;

 private:
  uint32_t count(uint64_t pair, bool local, uint16_t port) const;
  static uint64_t key(uint64_t pair, bool local, uint16_t port);
  std::unordered_map<uint64_t, uint32_t> counts_;
};

// TIME_WAIT per service: as a server, per local address and service port and client address;
// as a client, per local address and remote address:port, with the ephemeral ports in use
// towards that destination (any connected state), which is what runs out.
struct TimeWaitGroup {
  ConnectionRole role = ConnectionRole::client;
  IpAddress local;
  IpAddress remote;
  std::string local_host, remote_host;  // the names saved text gave instead (then a group of their own)
  uint16_t service_port = 0;  // server: the local port; client: the remote port
  uint64_t time_wait = 0;
  uint64_t ports_in_use = 0;  // client only: local ports within the ephemeral range, any connected state
};

class TimeWaitAnalysis {
 public:
  static constexpr int kBuckets = 7;  // 0-10 s, 10-20, ..., 50-60, and 60 s or more
  static constexpr int64_t kBucketMs = 10000;
  TimeWaitAnalysis(long port_low, long port_high) : side_(port_low, port_high) {}
  void set_listener_list(ListenerList list) { side_.set_listener_list(list); }
  // LISTEN sockets name the local services; TIME_WAIT sockets are counted; other connected
  // sockets with an ephemeral local port count towards ports in use. Any order of states.
  void add(const SocketRecord& s);
  // Groups the TIME_WAIT sockets once every listener is known; call after the last add().
  void finish();
  std::vector<TimeWaitGroup> top(size_t n) const;  // by TIME_WAIT count
  size_t groups() const { return groups_.size(); }
  uint64_t total() const { return total_; }
  uint64_t total(ConnectionRole r) const { return r == ConnectionRole::server ? server_total_ : total_ - server_total_; }
  const std::array<uint64_t, kBuckets>& histogram() const { return histogram_; }
  uint64_t without_timer() const { return without_timer_; }

 private:
  struct Key {
    IpAddress local, remote;
    uint16_t port;
    std::string local_host, remote_host;  // a named host is keyed by its name, not 0.0.0.0
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Pending {
    IpAddress local, remote;
    uint16_t local_port, remote_port;
    std::string local_host, remote_host;
  };
  ServiceSide side_;
  std::vector<Pending> pending_;                            // TIME_WAIT, until finish()
  std::unordered_map<Key, uint64_t, KeyHash> ports_used_;  // other states, ephemeral local port
  std::vector<TimeWaitGroup> groups_;
  std::array<uint64_t, kBuckets> histogram_{};
  uint64_t total_ = 0;
  uint64_t server_total_ = 0;
  uint64_t without_timer_ = 0;
};

// SYN_RECV per listener.
struct ListenerLoad {
  IpAddress address;
  std::string host;  // the name saved text gave instead of the address
  uint16_t port = 0;
  std::string interface;
  uint32_t accept_queue = 0;  // Recv-Q of the LISTEN socket
  uint32_t backlog = 0;       // Send-Q of the LISTEN socket; 0 when the source does not say
  // SO_REUSEPORT listeners of one address and port are one load: queues and backlogs summed,
  // and how many of them have a full accept queue (the kernel: more waiting than the backlog).
  uint32_t sockets = 1;
  uint32_t full_accept_queues = 0;
  uint64_t syn_recv = 0;
  uint64_t sources = 0;   // distinct remote addresses (or host names)
  uint64_t prefixes = 0;  // distinct /24 (IPv4) or /64 (IPv6) source networks; named sources have none
};

// How full a listener's SYN queue is, as "102%" (rounded, the same in the table and in the
// reasons: a floored reason said 101 % beside the table's 102 %), "?" without a backlog.
std::string syn_queue_fill_text(const ListenerLoad& l);

struct SynFloodSummary {
  std::vector<ListenerLoad> listeners;  // by SYN_RECV, busiest first
  uint64_t syn_recv = 0;
  uint64_t unmatched = 0;  // SYN_RECV without a listener in the table
  uint64_t sources = 0;
  uint64_t prefixes = 0;
  uint64_t named_sources = 0;  // SYN_RECV whose source is a host name: in no network count
  std::string top_source;
  uint64_t top_source_count = 0;
};

class SynFloodAnalysis {
 public:
  void add(const SocketRecord& s);
  SynFloodSummary finish() const;

 private:
  struct Pending {
    IpAddress local;
    uint16_t port;
    IpAddress remote;
    std::string local_host, remote_host;
  };
  std::vector<ListenerLoad> listeners_;
  // Each listener's place in listeners_, by port, address, host name and interface: SO_REUSEPORT
  // sockets of one of them are found in it, not by a walk of every listener for each.
  using ListenerKey = std::tuple<uint16_t, IpAddress, std::string, std::string>;
  std::map<ListenerKey, size_t> listener_index_;
  std::vector<Pending> syn_recv_;
};

enum class SynFloodVerdict { quiet, elevated, flood };
std::string_view verdict_name(SynFloodVerdict v);

struct SynFloodJudgement {
  SynFloodVerdict verdict = SynFloodVerdict::quiet;
  std::vector<std::string> reasons;
};

// The /proc/net/netstat counters judge_syn_flood reads, as read_tcp_counters() keys them.
inline constexpr std::array<std::string_view, 7> kSynFloodCounters = {
    "TcpExt.ListenOverflows", "TcpExt.ListenDrops",    "TcpExt.TCPReqQFullDrop", "TcpExt.TCPReqQFullDoCookies",
    "TcpExt.SyncookiesSent",  "TcpExt.SyncookiesRecv", "TcpExt.SyncookiesFailed"};

// What kSynFloodCounters grew by between two reads of read_tcp_counters(): key -> after - before
// (0 for a counter that went back, as after a reset); a counter missing from either read is left out.
std::map<std::string, uint64_t> syn_flood_counter_deltas(const std::map<std::string, uint64_t>& before,
                                                         const std::map<std::string, uint64_t>& after);

// A counter's name without its section: "ListenDrops" for "TcpExt.ListenDrops".
std::string_view counter_short_name(std::string_view key);

// A listener with this many SYN_RECV is busy (elevated), and a flood when they fill half its
// backlog: below it a few slow handshakes are ordinary.
inline constexpr uint64_t kBusyListenerSynRecv = 16;

// The rules (also in the man page): flood when SYN cookies were sent or SYNs were dropped for
// a full queue during the interval, when a listener's SYN_RECV reaches half its backlog (and at
// least 16), or when the SYN_RECV total reaches flood_threshold; elevated when a listener has 16
// or more SYN_RECV or its accept queue overflowed; quiet otherwise. With tcp_syncookies 2 every
// SYN gets a cookie, so the cookies that never came back stand for SYN_RECV: flood from
// flood_threshold, elevated from 16, counted a second (over an interval of a second or more:
// a flood's cookies pile up with the interval, and a count made --interval 5s say what 1s did
// not). counter_deltas holds "TcpExt.<name>" -> increase over `interval` (empty when not measured).
SynFloodJudgement judge_syn_flood(const SynFloodSummary& summary, const std::map<std::string, uint64_t>& counter_deltas,
                                  const TcpSysctls& sysctls, uint64_t flood_threshold,
                                  std::chrono::microseconds interval = std::chrono::seconds(1));

// The data bytes a CLOSE_WAIT socket holds unread. Recv-Q (sock_diag's idiag_rqueue and
// /proc's rx_queue, so also what ss and netstat print) is rcv_nxt - copied_seq, and the peer's
// FIN takes one sequence number: it counts as one byte until the process reads the end of
// stream. So Recv-Q 0 means the process read everything, FIN included; N > 0 means N - 1 bytes.
inline uint32_t close_wait_unread_bytes(uint32_t recv_q) { return recv_q ? recv_q - 1 : 0; }

// CLOSE_WAIT per owning process and service: as a server, its local port; as a client, the
// remote address:port (never one row per ephemeral port).
struct CloseWaitRow {
  std::string process;  // "name" or "-" when not known
  int pid = 0;
  // The sockets' other holders, by pid: a socket inherited across fork is closed only when every
  // process holding it has closed it (found: only the first holder was named).
  std::vector<ProcessRef> shared_with;
  ConnectionRole role = ConnectionRole::server;
  IpAddress remote;           // client: the service's address
  std::string remote_host;    // client: the service's host name, when saved text gave one
  uint16_t service_port = 0;  // server: the local port; client: the remote port
  uint64_t count = 0;
  uint64_t unread_bytes = 0;  // data bytes the process left unread (the FIN not counted)
  uint64_t eof_read = 0;      // sockets whose process read the end of stream and still did not close()
};

class CloseWaitAnalysis {
 public:
  CloseWaitAnalysis(long port_low, long port_high) : side_(port_low, port_high) {}
  // LISTEN sockets name the local services; CLOSE_WAIT sockets are kept until finish().
  void add(const SocketRecord& s);
  void set_listener_list(ListenerList list) { side_.set_listener_list(list); }
  // The inodes of the CLOSE_WAIT sockets whose owner is not known yet.
  std::unordered_set<uint64_t> unowned_inodes() const;
  // Groups the sockets; owner_of (when set) names the owners add() did not know.
  using OwnerLookup = std::function<const std::vector<ProcessRef>*(uint64_t inode)>;
  void finish(const OwnerLookup& owner_of = {});
  std::vector<CloseWaitRow> top(size_t n) const;  // by count
  uint64_t total() const { return total_; }

 private:
  struct Pending {
    std::vector<ProcessRef> holders;  // by pid, one entry a process; empty when not known
    uint64_t inode;
    IpAddress remote;
    std::string remote_host;
    uint16_t local_port, remote_port;
    uint32_t recv_q;
  };
  ServiceSide side_;
  std::vector<Pending> pending_;
  std::vector<CloseWaitRow> rows_;
  uint64_t total_ = 0;
};

// --max STATE=N (any state spelling, or "total").
struct Threshold {
  std::optional<TcpState> state;  // nullopt: all sockets
  uint64_t max = 0;
  std::string label() const;  // "time_wait", "total"
};
Result<Threshold> parse_threshold(std::string_view text);

struct CheckResult {
  Threshold threshold;
  uint64_t value = 0;
  bool exceeded = false;
};
std::vector<CheckResult> evaluate_thresholds(const std::vector<Threshold>& thresholds, const StateCounts& counts);

}  // namespace tcpkit
