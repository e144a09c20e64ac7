#pragma once
// The analyses behind tcpstate's views, fed one socket record at a time (whatever the source):
// per-state counts, top-N groups, TIME_WAIT per destination, SYN_RECV per listener with a
// flood verdict, CLOSE_WAIT per process and port, and --max thresholds.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tcpkit/error.hpp"
#include "tcpkit/socket_record.hpp"
#include "tcpkit/tcp_kernel_status.hpp"
#include "tcpkit/tcp_state.hpp"

namespace tcpkit {

using PerState = std::array<uint64_t, kTcpStateCount>;

// Counts per state and family.
struct StateCounts {
  PerState v4{};
  PerState v6{};
  void add(const SocketRecord& s) { (s.family() == Family::v6 ? v6 : v4)[state_index(s.state)]++; }
  uint64_t get(TcpState s) const { return v4[state_index(s)] + v6[state_index(s)]; }
  uint64_t total() const;
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

class GroupCounter {
 public:
  explicit GroupCounter(GroupBy by) : by_(by) {}
  void add(const SocketRecord& s);
  // The n largest groups, by total then key.
  std::vector<GroupRow> top(size_t n) const;
  size_t groups() const { return rows_.size(); }

 private:
  void add_key(const std::string& key, TcpState state);
  GroupBy by_;
  std::unordered_map<std::string, GroupRow> rows_;
};

// TIME_WAIT per local address -> remote address and port, with the ephemeral ports in use
// towards that destination (any state), which is what runs out.
struct TimeWaitDestination {
  IpAddress local;
  IpAddress remote;
  uint16_t remote_port = 0;
  uint64_t time_wait = 0;
  uint64_t ports_in_use = 0;  // local ports within the ephemeral range, any connected state
};

class TimeWaitAnalysis {
 public:
  static constexpr int kBuckets = 7;  // 0-10 s, 10-20, ..., 50-60, and 60 s or more
  TimeWaitAnalysis(long port_low, long port_high) : low_(port_low), high_(port_high) {}
  void add(const SocketRecord& s);
  std::vector<TimeWaitDestination> top(size_t n) const;  // by TIME_WAIT count
  size_t destinations() const;
  uint64_t total() const { return total_; }
  const std::array<uint64_t, kBuckets>& histogram() const { return histogram_; }
  uint64_t without_timer() const { return without_timer_; }

 private:
  struct Key {
    IpAddress local, remote;
    uint16_t port;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  long low_, high_;
  std::unordered_map<Key, TimeWaitDestination, KeyHash> by_dest_;
  std::array<uint64_t, kBuckets> histogram_{};
  uint64_t total_ = 0;
  uint64_t without_timer_ = 0;
};

// SYN_RECV per listener.
struct ListenerLoad {
  IpAddress address;
  uint16_t port = 0;
  std::string interface;
  uint32_t accept_queue = 0;  // Recv-Q of the LISTEN socket
  uint32_t backlog = 0;       // Send-Q of the LISTEN socket; 0 when the source does not say
  uint64_t syn_recv = 0;
  uint64_t sources = 0;   // distinct remote addresses
  uint64_t prefixes = 0;  // distinct /24 (IPv4) or /64 (IPv6) source networks
};

struct SynFloodSummary {
  std::vector<ListenerLoad> listeners;  // by SYN_RECV, busiest first
  uint64_t syn_recv = 0;
  uint64_t unmatched = 0;  // SYN_RECV without a listener in the table
  uint64_t sources = 0;
  uint64_t prefixes = 0;
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
  };
  std::vector<ListenerLoad> listeners_;
  std::vector<Pending> syn_recv_;
};

enum class SynFloodVerdict { quiet, elevated, flood };
std::string_view verdict_name(SynFloodVerdict v);

struct SynFloodJudgement {
  SynFloodVerdict verdict = SynFloodVerdict::quiet;
  std::vector<std::string> reasons;
};

// The rules (also in the man page): flood when SYN cookies were sent or SYNs were dropped for
// a full queue during the interval, when a listener's SYN_RECV reaches half its backlog (and at
// least 16), or when the SYN_RECV total reaches flood_threshold; elevated when a listener has 16
// or more SYN_RECV or its accept queue overflowed; quiet otherwise. counter_deltas holds
// "TcpExt.<name>" -> increase over the interval (empty when not measured).
SynFloodJudgement judge_syn_flood(const SynFloodSummary& summary, const std::map<std::string, uint64_t>& counter_deltas,
                                  const TcpSysctls& sysctls, uint64_t flood_threshold);

// CLOSE_WAIT per owning process and local port.
struct CloseWaitRow {
  std::string process;  // "name" or "-" when not known
  int pid = 0;
  uint16_t local_port = 0;
  uint64_t count = 0;
  uint64_t recv_q = 0;  // unread bytes the application left behind
};

class CloseWaitAnalysis {
 public:
  void add(const SocketRecord& s);
  std::vector<CloseWaitRow> top(size_t n) const;
  uint64_t total() const { return total_; }

 private:
  std::map<std::tuple<std::string, int, uint16_t>, CloseWaitRow> rows_;
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
