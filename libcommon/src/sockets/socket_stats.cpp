#include "tcpkit/sockets/socket_stats.hpp"

#include <algorithm>
#include <cstring>

#include "tcpkit/util/output.hpp"

namespace tcpkit {

uint64_t StateCounts::total() const {
  uint64_t t = 0;
  for (int i = 0; i < kTcpStateCount; ++i) t += v4[i] + v6[i] + unknown[i];
  return t;
}

uint64_t StateCounts::unknown_total() const {
  uint64_t t = 0;
  for (auto n : unknown) t += n;
  return t;
}

std::optional<GroupBy> parse_group_by(std::string_view text) {
  if (text == "peer") return GroupBy::peer;
  if (text == "remote-port") return GroupBy::remote_port;
  if (text == "local-port") return GroupBy::local_port;
  if (text == "process") return GroupBy::process;
  return std::nullopt;
}

std::string_view group_by_name(GroupBy g) {
  switch (g) {
    case GroupBy::peer: return "peer";
    case GroupBy::remote_port: return "remote-port";
    case GroupBy::local_port: return "local-port";
    case GroupBy::process: return "process";
  }
  return "peer";
}

namespace {
// FNV-1a (64-bit offset basis and prime).
constexpr uint64_t kFnvOffsetBasis = 1469598103934665603ull, kFnvPrime = 1099511628211ull;
uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

// The two ends' addresses and names, with a separator so that ("ab", "") and ("a", "b") differ.
uint64_t host_pair_hash(const IpAddress& local, const IpAddress& remote, std::string_view local_host,
                        std::string_view remote_host) {
  uint64_t h = fnv1a(kFnvOffsetBasis, local.data(), local.size());
  h = fnv1a(h, remote.data(), remote.size());
  h = fnv1a(h, reinterpret_cast<const uint8_t*>(local_host.data()), local_host.size());
  h = fnv1a(h, reinterpret_cast<const uint8_t*>("\0"), 1);
  return fnv1a(h, reinterpret_cast<const uint8_t*>(remote_host.data()), remote_host.size());
}

// The address a group is keyed on: a named end (saved text without -n) is its name whatever
// the family of the line (netstat's tcp and tcp6 lines of one name), an IPv4-mapped one the
// IPv4 address it stands for.
IpAddress keyed_address(const IpAddress& address, const std::string& host) {
  return host.empty() ? address.unmapped() : IpAddress();
}

// Each connection's role: listener and port range first; for those they leave open, which
// end's port repeats between the same two hosts (counted only when some role is open).
template <class Pending, class PairOf>
std::vector<ConnectionRole> roles_of(const ServiceSide& side, const std::vector<Pending>& pending, PairOf pair) {
  const bool open = std::any_of(pending.begin(), pending.end(),
                                [&](const Pending& p) { return side.open(p.local_port, p.remote_port); });
  PortRepeats repeats;
  if (open)
    for (const auto& p : pending) repeats.add(pair(p), p.local_port, p.remote_port);
  std::vector<ConnectionRole> roles;
  roles.reserve(pending.size());
  for (const auto& p : pending)
    roles.push_back(side.role(p.local_port, p.remote_port,
                              open && side.open(p.local_port, p.remote_port)
                                  ? repeats.role(pair(p), p.local_port, p.remote_port)
                                  : std::nullopt));
  return roles;
}
}  // namespace

void GroupCounter::add_key(Rows& rows, const std::string& key, TcpState state, uint64_t n) {
  auto& row = rows[key];
  if (row.key.empty()) row.key = key;
  row.total += n;
  row.states[state_index(state)] += n;
}

namespace {
constexpr int kLocalShift = 24, kRemoteShift = 8;  // (local port, remote port, state) in one key
constexpr uint64_t kPortMask = 0xffff, kStateMask = 0xff;
}  // namespace

void GroupCounter::add(const SocketRecord& s) {
  switch (by_) {
    case GroupBy::peer:
      // A listener has no peer: its own label, not a peer "0.0.0.0". A dual-stack socket's
      // IPv4 peer (::ffff:10.0.0.1) is that IPv4 peer.
      if (s.state == TcpState::listen) add_key(rows_, std::string(kListenersKey), s.state);
      else add_key(rows_, host_text(s.remote.unmapped(), s.remote_host), s.state);
      break;
    case GroupBy::remote_port:
    case GroupBy::local_port:
      // Which end is the client is known only once every listener is: keyed in rows().
      if (s.state == TcpState::listen) side_.add_listener(s.local_port);
      ports_keyed_.reset();
      ++ports_[PortsKey{host_pair_hash(keyed_address(s.local, s.local_host), keyed_address(s.remote, s.remote_host),
                                       s.local_host, s.remote_host),
                        uint64_t(s.local_port) << kLocalShift | uint64_t(s.remote_port) << kRemoteShift |
                            uint64_t(state_index(s.state))}];
      break;
    case GroupBy::process:
      if (s.processes.empty()) {
        add_key(rows_, "-", s.state);
      } else {
        add_key(rows_, owners_key(s.processes), s.state);
      }
      break;
  }
}

// A socket's owners as one --by process key: "nginx[100]", or for a socket shared by several
// processes (after fork: nginx's master and worker, sshd's privsep pair) "nginx[100,101]" (one
// name) or "python3[5]+sh[9]". Counted once per process, such sockets made the rows add up to
// more than the sockets (33 for 29).
std::string owners_key(const std::vector<ProcessRef>& processes) {
  std::vector<std::pair<std::string, int>> owners;
  owners.reserve(processes.size());
  for (const auto& p : processes) owners.emplace_back(p.name, p.pid);
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  std::string key;
  for (size_t i = 0; i < owners.size(); ++i) {
    const bool same_name = i > 0 && owners[i].first == owners[i - 1].first;
    if (!same_name) key += (i ? "]+" : "") + owners[i].first + "[";
    else key += ",";
    key += std::to_string(owners[i].second);
  }
  return owners.empty() ? "-" : key + "]";
}

const GroupCounter::Rows& GroupCounter::rows() const {
  if (by_ != GroupBy::local_port && by_ != GroupBy::remote_port) return rows_;
  if (ports_keyed_) return *ports_keyed_;
  Rows& rows = ports_keyed_.emplace();
  // The role as the time-wait report decides it: listener, port range, then the end whose port
  // repeats between the same two hosts (a service inside the ephemeral range, gRPC's 50051),
  // then with every listener known the remote end (ServiceSide::role).
  struct Connected {
    uint64_t pair;
    uint16_t local_port, remote_port;
    TcpState state;
    uint64_t n;
  };
  std::vector<Connected> connected;
  for (const auto& [key, n] : ports_) {
    const auto local = uint16_t(key.ports_state >> kLocalShift & kPortMask);
    const auto remote = uint16_t(key.ports_state >> kRemoteShift & kPortMask);
    const TcpState state = kAllTcpStates[key.ports_state & kStateMask];
    if (state == TcpState::listen)
      add_key(rows, by_ == GroupBy::local_port ? std::to_string(local) : std::string(kListenersKey), state, n);
    else
      connected.push_back(Connected{key.pair, local, remote, state, n});
  }
  const auto roles = roles_of(side_, connected, [](const Connected& c) { return c.pair; });
  for (size_t i = 0; i < connected.size(); ++i) {
    const Connected& c = connected[i];
    const bool local_side = by_ == GroupBy::local_port;
    const uint16_t port = local_side ? c.local_port : c.remote_port;
    const bool client_end = local_side ? roles[i] == ConnectionRole::client : roles[i] == ConnectionRole::server;
    add_key(rows, client_end && side_.ephemeral(port) ? std::string(kEphemeralKey) : std::to_string(port), c.state, c.n);
  }
  return rows;
}

std::vector<GroupRow> GroupCounter::top(size_t n) const {
  const Rows& all = rows();
  std::vector<GroupRow> out;
  out.reserve(all.size());
  for (const auto& [_, row] : all) out.push_back(row);
  const size_t k = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<long>(k), out.end(), [](const GroupRow& a, const GroupRow& b) {
    return a.total != b.total ? a.total > b.total : a.key < b.key;
  });
  out.resize(k);
  return out;
}

ListenerList listener_list(const SocketFilter& filter, bool live_source) {
  // --sport keeps a port's listener with its connections; --src may not (a wildcard listener).
  if (!filter.states.contains(TcpState::listen) || !filter.remote_ports.empty() || !filter.remote_nets.empty() ||
      !filter.local_nets.empty())
    return ListenerList::partial;
  return live_source ? ListenerList::complete : ListenerList::complete_if_any;
}

std::string_view role_name(ConnectionRole r) { return r == ConnectionRole::server ? "server" : "client"; }

ConnectionRole ServiceSide::role(uint16_t local_port, uint16_t remote_port,
                                 std::optional<ConnectionRole> repeated) const {
  if (listening(local_port)) return ConnectionRole::server;
  const bool local_eph = ephemeral(local_port), remote_eph = ephemeral(remote_port);
  if (local_eph != remote_eph) return local_eph ? ConnectionRole::client : ConnectionRole::server;
  if (repeated) return *repeated;
  // A server that closed its listener (nginx draining) repeats its port across connections; a
  // remote port in IANA's dynamic range (Windows and BSD clients take theirs there) is a client's.
  if (listeners_known() && remote_port < kIanaDynamicLow) return ConnectionRole::client;
  return local_port <= remote_port ? ConnectionRole::server : ConnectionRole::client;
}

uint64_t PortRepeats::key(uint64_t pair, bool local, uint16_t port) {
  constexpr uint64_t kMix = 0x9e3779b97f4a7c15ull;  // golden-ratio multiplier: spreads the pair's bits
  return (pair * kMix) ^ (uint64_t(port) << 1 | (local ? 1 : 0));
}

uint32_t PortRepeats::count(uint64_t pair, bool local, uint16_t port) const {
  const auto it = counts_.find(key(pair, local, port));
  return it == counts_.end() ? 0 : it->second;
}

void PortRepeats::add(uint64_t pair, uint16_t local_port, uint16_t remote_port) {
  ++counts_[key(pair, true, local_port)];
  ++counts_[key(pair, false, remote_port)];
}

std::optional<ConnectionRole> PortRepeats::role(uint64_t pair, uint16_t local_port, uint16_t remote_port) const {
  const uint32_t local = count(pair, true, local_port), remote = count(pair, false, remote_port);
  if (remote >= 2 && local == 1) return ConnectionRole::client;
  if (local >= 2 && remote == 1) return ConnectionRole::server;
  return std::nullopt;
}


size_t TimeWaitAnalysis::KeyHash::operator()(const Key& k) const {
  const uint8_t port[2] = {uint8_t(k.port >> 8), uint8_t(k.port)};
  return static_cast<size_t>(fnv1a(host_pair_hash(k.local, k.remote, k.local_host, k.remote_host), port, 2));
}

void TimeWaitAnalysis::add(const SocketRecord& s) {
  if (s.state == TcpState::listen) {
    side_.add_listener(s.local_port);
    return;
  }
  if (s.state == TcpState::close) return;
  // An IPv4-mapped pair (a dual-stack socket, ::ffff:10.0.0.1) is the IPv4 pair it stands for:
  // its connect() takes the same ephemeral ports, and its peer is the same client or service.
  const IpAddress local = keyed_address(s.local, s.local_host), remote = keyed_address(s.remote, s.remote_host);
  if (s.state != TcpState::time_wait) {
    if (side_.ephemeral(s.local_port)) ++ports_used_[Key{local, remote, s.remote_port, s.local_host, s.remote_host}];
    return;
  }
  pending_.push_back(Pending{local, remote, s.local_port, s.remote_port, s.local_host, s.remote_host});
  ++total_;
  if (!s.timer_ms) {
    ++without_timer_;
    return;
  }
  const int64_t bucket = *s.timer_ms / kBucketMs;
  ++histogram_[static_cast<size_t>(std::clamp<int64_t>(bucket, 0, kBuckets - 1))];
}

void TimeWaitAnalysis::finish() {
  // A server's group: (local, client address, local port); a client's: (local, remote, remote port).
  std::unordered_map<Key, TimeWaitGroup, KeyHash> server, client;
  server_total_ = 0;
  const auto roles = roles_of(side_, pending_, [](const Pending& p) {
    return host_pair_hash(p.local, p.remote, p.local_host, p.remote_host);
  });
  for (size_t i = 0; i < pending_.size(); ++i) {
    const Pending& p = pending_[i];
    const ConnectionRole role = roles[i];
    const uint16_t port = role == ConnectionRole::server ? p.local_port : p.remote_port;
    auto& g = (role == ConnectionRole::server ? server : client)[Key{p.local, p.remote, port, p.local_host, p.remote_host}];
    if (g.time_wait == 0) {
      g.role = role;
      g.local = p.local;
      g.remote = p.remote;
      g.local_host = p.local_host;
      g.remote_host = p.remote_host;
      g.service_port = port;
    }
    ++g.time_wait;
    if (role == ConnectionRole::server) ++server_total_;
    else if (side_.ephemeral(p.local_port)) ++g.ports_in_use;
  }
  groups_.clear();
  groups_.reserve(server.size() + client.size());
  for (auto& [_, g] : server) groups_.push_back(g);
  for (auto& [k, g] : client) {
    if (auto it = ports_used_.find(k); it != ports_used_.end()) g.ports_in_use += it->second;
    groups_.push_back(g);
  }
}

std::vector<TimeWaitGroup> TimeWaitAnalysis::top(size_t n) const {
  std::vector<TimeWaitGroup> out = groups_;
  const size_t k = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<long>(k), out.end(),
                    [](const TimeWaitGroup& a, const TimeWaitGroup& b) {
                      if (a.time_wait != b.time_wait) return a.time_wait > b.time_wait;
                      if (a.role != b.role) return a.role < b.role;
                      if (a.remote_host != b.remote_host) return a.remote_host < b.remote_host;
                      if (a.remote != b.remote) return a.remote < b.remote;
                      if (a.service_port != b.service_port) return a.service_port < b.service_port;
                      if (a.local_host != b.local_host) return a.local_host < b.local_host;
                      return a.local < b.local;
                    });
  out.resize(k);
  return out;
}

void SynFloodAnalysis::add(const SocketRecord& s) {
  if (s.state == TcpState::listen) {
    // A queue is full when it holds more than the backlog (sk_acceptq_is_full): one more fits at
    // the backlog itself (seen: Recv-Q 4 of Send-Q 3).
    const bool full = s.send_q > 0 && s.recv_q > s.send_q;
    // SO_REUSEPORT (nginx reuseport, envoy): the same address and port more than once. Kept as
    // one, its rows and Prometheus series were twins a scraper rejects.
    const auto [at, fresh] =
        listener_index_.try_emplace(ListenerKey{s.local_port, s.local, s.local_host, s.interface}, listeners_.size());
    if (!fresh) {
      ListenerLoad& l = listeners_[at->second];
      l.accept_queue += s.recv_q;
      l.backlog += s.send_q;
      ++l.sockets;
      l.full_accept_queues += full;
      return;
    }
    ListenerLoad l;
    l.address = s.local;
    l.host = s.local_host;
    l.port = s.local_port;
    l.interface = s.interface;
    l.accept_queue = s.recv_q;
    l.backlog = s.send_q;
    l.full_accept_queues = full;
    listeners_.push_back(std::move(l));
  } else if (s.state == TcpState::syn_recv) {
    syn_recv_.push_back(Pending{s.local, s.local_port, s.remote, s.local_host, s.remote_host});
  }
}

namespace {

// The /24 or /64 a source belongs to, as a comparable value.
IpAddress source_prefix(const IpAddress& a) {
  uint8_t b[16] = {};
  std::memcpy(b, a.data(), a.size());
  if (a.is_v4()) {
    b[3] = 0;
    return IpAddress::from_v4(b);
  }
  std::memset(b + 8, 0, 8);
  return IpAddress::from_v6(b);
}

// Is l bound to exactly this local host (the same name, or the same address and no name)?
bool listener_is(const ListenerLoad& l, const IpAddress& address, const std::string& host) {
  return l.host == host && (!host.empty() || l.address == address);
}

// Does a listener bound to l accept a connection to address:port? An unspecified IPv6
// listener accepts IPv4 too (dual-stack), as Linux does unless v6only is set. A named local
// host (saved text) is that listener's name, or any address a wildcard listener covers.
bool listener_covers(const ListenerLoad& l, const IpAddress& address, const std::string& host, uint16_t port) {
  if (l.port != port) return false;
  if (listener_is(l, address, host)) return true;
  if (!l.host.empty() || !l.address.is_unspecified()) return false;
  return !host.empty() || l.address.family() == address.family() || l.address.is_v6();
}

}  // namespace

namespace {
// Said of a listener whose backlog the source did not give.
constexpr std::string_view kBacklogUnknown =
    " (its backlog is not known: /proc/net/tcp and netstat give none, so how full its queues are cannot be told; "
    "netlink, the default source, and ss -tan give it)";
}  // namespace

SynFloodSummary SynFloodAnalysis::finish() const {
  SynFloodSummary out;
  out.listeners = listeners_;
  std::vector<std::unordered_set<std::string>> sources(listeners_.size());
  std::vector<std::unordered_set<std::string>> prefixes(listeners_.size());
  std::unordered_map<std::string, uint64_t> per_source;
  std::unordered_set<std::string> all_prefixes;
  for (const auto& p : syn_recv_) {
    ++out.syn_recv;
    // A dual-stack listener's IPv4 client is [::ffff:a.b.c.d]: the same source, in its /24
    // (as a /64 every mapped address would share one all-zero network).
    const IpAddress remote = p.remote.unmapped();
    const std::string src = host_text(remote, p.remote_host);
    // A named source's network is not known: it counts as a source, in no network.
    const bool named = !p.remote_host.empty();
    const std::string pfx = named ? "" : source_prefix(remote).to_string();
    ++per_source[src];
    if (named) ++out.named_sources;
    else all_prefixes.insert(pfx);
    // The most specific listener wins: an exact address before a wildcard.
    long best = -1;
    for (size_t i = 0; i < out.listeners.size(); ++i) {
      if (!listener_covers(out.listeners[i], p.local, p.local_host, p.port)) continue;
      if (best < 0 || listener_is(out.listeners[i], p.local, p.local_host)) best = static_cast<long>(i);
    }
    if (best < 0) {
      ++out.unmatched;
      continue;
    }
    ++out.listeners[static_cast<size_t>(best)].syn_recv;
    sources[static_cast<size_t>(best)].insert(src);
    if (!named) prefixes[static_cast<size_t>(best)].insert(pfx);
  }
  for (size_t i = 0; i < out.listeners.size(); ++i) {
    out.listeners[i].sources = sources[i].size();
    out.listeners[i].prefixes = prefixes[i].size();
  }
  out.sources = per_source.size();
  out.prefixes = all_prefixes.size();
  for (const auto& [src, n] : per_source)
    if (n > out.top_source_count || (n == out.top_source_count && src < out.top_source)) {
      out.top_source = src;
      out.top_source_count = n;
    }
  std::stable_sort(out.listeners.begin(), out.listeners.end(), [](const ListenerLoad& a, const ListenerLoad& b) {
    if (a.syn_recv != b.syn_recv) return a.syn_recv > b.syn_recv;
    return a.port < b.port;
  });
  return out;
}

std::string syn_queue_fill_text(const ListenerLoad& l) {
  if (!l.backlog) return "?";
  return format_fixed(100.0 * static_cast<double>(l.syn_recv) / l.backlog, 0) + "%";
}

std::string_view verdict_name(SynFloodVerdict v) {
  switch (v) {
    case SynFloodVerdict::quiet: return "quiet";
    case SynFloodVerdict::elevated: return "elevated";
    case SynFloodVerdict::flood: return "flood";
  }
  return "quiet";
}

std::map<std::string, uint64_t> syn_flood_counter_deltas(const std::map<std::string, uint64_t>& before,
                                                         const std::map<std::string, uint64_t>& after) {
  std::map<std::string, uint64_t> deltas;
  for (const std::string_view name : kSynFloodCounters) {
    const std::string key(name);
    const auto a = after.find(key), b = before.find(key);
    if (a != after.end() && b != before.end()) deltas[key] = a->second >= b->second ? a->second - b->second : 0;
  }
  return deltas;
}

std::string_view counter_short_name(std::string_view key) {
  const size_t dot = key.find('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

SynFloodJudgement judge_syn_flood(const SynFloodSummary& summary, const std::map<std::string, uint64_t>& deltas,
                                  const TcpSysctls& sysctls, uint64_t flood_threshold, std::chrono::microseconds interval) {
  SynFloodJudgement j;
  auto raise = [&](SynFloodVerdict v, std::string why) {
    if (v > j.verdict) j.verdict = v;
    j.reasons.push_back(std::move(why));
  };
  auto delta = [&](const char* name) -> uint64_t {
    auto it = deltas.find(std::string("TcpExt.") + name);
    return it == deltas.end() ? 0 : it->second;
  };
  // tcp_syncookies 2: the kernel answers every SYN with a cookie and counts it in SyncookiesSent
  // and TCPReqQFullDoCookies, full queue or not, and keeps no SYN_RECV. A flood shows there as
  // cookies that never came back: the SYN_RECV of such a host, held to the same threshold (an
  // interval also ends with ordinary handshakes in flight).
  const bool every_syn_cookied = sysctls.syncookies && *sysctls.syncookies == 2;
  const uint64_t cookies_sent = delta("SyncookiesSent"), cookies_back = delta("SyncookiesRecv");
  const uint64_t cookies_open = cookies_sent > cookies_back ? cookies_sent - cookies_back : 0;
  if (every_syn_cookied) {
    // A second's worth: those in flight at the interval's end do not grow with it, a flood's do.
    const double seconds = std::max(1.0, std::chrono::duration<double>(interval).count());
    const auto open_a_second = uint64_t(double(cookies_open) / seconds);
    const std::string open_text =
        std::to_string(cookies_open) + " of " + std::to_string(cookies_sent) + " SYN cookies never came back" +
        (seconds > 1.0 ? " in " + format_fixed(seconds, 1) + " s (" + std::to_string(open_a_second) + " a second)"
                       : std::string());
    if (open_a_second >= flood_threshold)
      raise(SynFloodVerdict::flood, open_text + " (half-open handshakes), at or above the threshold of " +
                                        std::to_string(flood_threshold) + (seconds > 1.0 ? " a second" : ""));
    else if (open_a_second >= kBusyListenerSynRecv)  // as many SYN_RECV at one listener
      raise(SynFloodVerdict::elevated, open_text + " (half-open handshakes, or in flight at the interval's end)");
  } else if (cookies_sent) {
    raise(SynFloodVerdict::flood, std::to_string(cookies_sent) + " SYN cookies sent: a SYN queue was full");
  }
  if (const uint64_t n = delta("TCPReqQFullDrop"))
    raise(SynFloodVerdict::flood, std::to_string(n) + " SYNs dropped because a SYN queue was full" +
                                      (sysctls.syncookies && *sysctls.syncookies == 0 ? " (tcp_syncookies is 0)" : ""));
  if (const uint64_t n = delta("TCPReqQFullDoCookies"); n && !every_syn_cookied)
    raise(SynFloodVerdict::flood, std::to_string(n) + " SYNs answered with cookies because a SYN queue was full");
  for (const auto& l : summary.listeners) {
    const std::string who = "port " + std::to_string(l.port);
    if (l.backlog > 0 && l.syn_recv >= kBusyListenerSynRecv && l.syn_recv * 2 >= l.backlog)
      raise(SynFloodVerdict::flood, who + ": " + std::to_string(l.syn_recv) + " SYN_RECV fill " +
                                        syn_queue_fill_text(l) + " of its backlog of " +
                                        std::to_string(l.backlog) + " (from " + std::to_string(l.sources) + " sources in " +
                                        std::to_string(l.prefixes) + " networks)");
    else if (l.backlog > 0 && l.syn_recv > l.backlog)
      // Its SYN queue is full (more than the backlog, the kernel's limit): the next SYN gets a
      // cookie or is dropped (seen: 65 SYN_RECV of 64 before the first cookie). A small listener
      // is full well below kBusyListenerSynRecv (seen: 9 of 8, QUIET).
      raise(SynFloodVerdict::elevated, who + ": SYN queue full (" + std::to_string(l.syn_recv) + " SYN_RECV, backlog " +
                                           std::to_string(l.backlog) + "): new SYNs get cookies or are dropped");
    else if (l.syn_recv >= kBusyListenerSynRecv)
      // Without its backlog (netstat prints none) the rule of the half-full queue cannot run:
      // the same sockets read from ss may be a flood (found: ELEVATED from netstat, FLOOD from ss).
      raise(SynFloodVerdict::elevated, who + ": " + std::to_string(l.syn_recv) + " SYN_RECV from " +
                                           std::to_string(l.sources) + " sources" +
                                           (l.backlog == 0 ? std::string(kBacklogUnknown) : ""));
    if (l.full_accept_queues > 0)
      raise(SynFloodVerdict::elevated,
            who + ": accept queue full (" + std::to_string(l.accept_queue) + " waiting, backlog " +
                std::to_string(l.backlog) +
                (l.sockets > 1 ? ", " + std::to_string(l.full_accept_queues) + " of its " + std::to_string(l.sockets) +
                                     " SO_REUSEPORT sockets full"
                               : std::string()) +
                "): the application does not accept() fast enough");
    else if (l.backlog == 0 && l.accept_queue >= kBusyListenerSynRecv)
      // /proc/net/tcp and netstat give no backlog: a queue this long may be full, or not.
      raise(SynFloodVerdict::elevated, who + ": " + std::to_string(l.accept_queue) +
                                           " connections wait to be accepted" + std::string(kBacklogUnknown));
  }
  if (summary.syn_recv >= flood_threshold)
    raise(SynFloodVerdict::flood, std::to_string(summary.syn_recv) + " SYN_RECV in all, at or above the threshold of " +
                                      std::to_string(flood_threshold));
  if (const uint64_t n = delta("ListenOverflows"))
    raise(SynFloodVerdict::elevated, std::to_string(n) + " accept queue overflows (ListenOverflows)");
  else if (const uint64_t d = delta("ListenDrops"))
    raise(SynFloodVerdict::elevated, std::to_string(d) + " SYNs or handshakes dropped by listeners (ListenDrops)");
  if (j.reasons.empty() && every_syn_cookied && !deltas.empty())
    j.reasons.push_back(std::to_string(summary.syn_recv) + " SYN_RECV; tcp_syncookies 2 answers every SYN with a cookie: " +
                        std::to_string(cookies_sent) + " sent, " + std::to_string(cookies_back) +
                        " came back, and no queue drops during the interval");
  else if (j.reasons.empty())
    j.reasons.push_back(std::to_string(summary.syn_recv) + " SYN_RECV" +
                        (deltas.empty() ? "" : ", no SYN cookies and no queue drops during the interval"));
  return j;
}

namespace {
// A socket's holders, one entry a process (a process may hold it under several descriptors),
// in pid order, so that the same holders make the same row whatever order /proc gave.
std::vector<ProcessRef> holders_by_pid(std::vector<ProcessRef> processes) {
  std::sort(processes.begin(), processes.end(), [](const ProcessRef& a, const ProcessRef& b) { return a.pid < b.pid; });
  processes.erase(std::unique(processes.begin(), processes.end(),
                              [](const ProcessRef& a, const ProcessRef& b) { return a.pid == b.pid; }),
                  processes.end());
  for (auto& p : processes) p.fd = -1;  // which descriptor is no part of the row
  return processes;
}
}  // namespace

void CloseWaitAnalysis::add(const SocketRecord& s) {
  if (s.state == TcpState::listen) {
    side_.add_listener(s.local_port);
    return;
  }
  if (s.state != TcpState::close_wait) return;
  ++total_;
  pending_.push_back(Pending{holders_by_pid(s.processes), s.inode.value_or(0), keyed_address(s.remote, s.remote_host),
                             s.remote_host, s.local_port, s.remote_port, s.recv_q});
}

std::unordered_set<uint64_t> CloseWaitAnalysis::unowned_inodes() const {
  std::unordered_set<uint64_t> out;
  for (const auto& p : pending_)
    if (p.holders.empty() && p.inode) out.insert(p.inode);
  return out;
}

void CloseWaitAnalysis::finish(const OwnerLookup& owner_of) {
  std::map<std::tuple<std::vector<ProcessRef>, ConnectionRole, std::string, IpAddress, uint16_t>, CloseWaitRow> rows;
  const auto roles = roles_of(side_, pending_, [](const Pending& p) {
    return host_pair_hash(IpAddress(), p.remote, "", p.remote_host);
  });
  for (size_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (owner_of && p.holders.empty() && p.inode)
      if (const auto* owners = owner_of(p.inode)) p.holders = holders_by_pid(*owners);
    const ConnectionRole role = roles[i];
    const bool server = role == ConnectionRole::server;
    const IpAddress remote = server ? IpAddress() : p.remote;
    const std::string remote_host = server ? std::string() : p.remote_host;
    const uint16_t port = server ? p.local_port : p.remote_port;
    auto& row = rows[{p.holders, role, remote_host, remote, port}];
    if (row.count == 0) {
      row.process = p.holders.empty() ? "-" : p.holders.front().name;
      row.pid = p.holders.empty() ? 0 : p.holders.front().pid;
      if (p.holders.size() > 1) row.shared_with.assign(p.holders.begin() + 1, p.holders.end());
      row.role = role;
      row.remote = remote;
      row.remote_host = remote_host;
      row.service_port = port;
    }
    ++row.count;
    row.unread_bytes += close_wait_unread_bytes(p.recv_q);
    row.eof_read += p.recv_q == 0;
  }
  rows_.clear();
  for (auto& [_, r] : rows) rows_.push_back(std::move(r));
  std::stable_sort(rows_.begin(), rows_.end(), [](const CloseWaitRow& a, const CloseWaitRow& b) { return a.count > b.count; });
}

std::vector<CloseWaitRow> CloseWaitAnalysis::top(size_t n) const {
  std::vector<CloseWaitRow> out(rows_.begin(), rows_.begin() + static_cast<long>(std::min(n, rows_.size())));
  return out;
}

std::string Threshold::label() const { return state ? std::string(state_key(*state)) : "total"; }

Result<Threshold> parse_threshold(std::string_view text) {
  const size_t eq = text.find('=');
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::bad_input, "invalid --max '" + std::string(text) + "': " + why);
  };
  if (eq == std::string_view::npos) return bad("expected STATE=N, e.g. time-wait=20000");
  Threshold t;
  const std::string_view name = text.substr(0, eq);
  if (name != "total") {
    t.state = parse_tcp_state(name);
    if (!t.state) return bad("unknown state '" + std::string(name) + "'");
  }
  const auto n = parse_uint(text.substr(eq + 1));
  if (!n) return bad("the limit must be a whole number");
  t.max = *n;
  return t;
}

std::vector<CheckResult> evaluate_thresholds(const std::vector<Threshold>& thresholds, const StateCounts& counts) {
  std::vector<CheckResult> out;
  for (const auto& t : thresholds) {
    CheckResult r;
    r.threshold = t;
    r.value = t.state ? counts.get(*t.state) : counts.total();
    r.exceeded = r.value > t.max;
    out.push_back(r);
  }
  return out;
}

}  // namespace tcpkit
