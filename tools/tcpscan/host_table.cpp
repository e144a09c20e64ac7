#include "tcpscan/host_table.hpp"

#include <algorithm>
#include <cerrno>

#include "tcpkit/io/link_layer.hpp"

namespace tcpscan {

using tcpkit::Reason;

tcpkit::Verdict PortResult::verdict() const {
  tcpkit::Verdict v;
  v.state = tcpkit::PortState(state);
  v.reason = Reason(reason);
  v.icmp_type = icmp_type;
  v.icmp_code = icmp_code;
  v.icmp_v6 = icmp_v6;
  v.zero_window = zero_window;
  return v;
}

namespace {
// An ICMP error answered the port's SYN, or the ACK check's ACK to it.
bool icmp_answered(const tcpkit::Verdict& v, tcpkit::AckAnswer ack) {
  return v.reason == Reason::icmp_unreachable || ack == tcpkit::AckAnswer::icmp;
}
}  // namespace

tcpkit::Verdict Host::verdict(const PortResult& p) const {
  tcpkit::Verdict v = p.verdict();
  if (!icmp_answered(v, p.ack)) return v;
  v.icmp_from_target = p.sender == 0;
  // A sender not kept stays unspecified: named nowhere rather than wrongly.
  v.icmp_sender = v.icmp_from_target ? address : icmp_sender(p).value_or(tcpkit::IpAddress());
  return v;
}

std::optional<tcpkit::IpAddress> Host::icmp_sender(const PortResult& p) const {
  if (p.sender == 0 || p.sender > icmp_senders.size()) return std::nullopt;
  return icmp_senders[p.sender - 1];
}

std::optional<tcpkit::IpAddress> Host::reason_ip(const PortResult& p) const {
  if (p.reason != uint8_t(Reason::icmp_unreachable)) return std::nullopt;
  return icmp_sender(p);
}

uint8_t Host::keep_sender(const tcpkit::Verdict& v, tcpkit::AckAnswer ack) {
  if (!icmp_answered(v, ack) || v.icmp_from_target) return 0;
  const auto known = std::find(icmp_senders.begin(), icmp_senders.end(), v.icmp_sender);
  if (known != icmp_senders.end()) return uint8_t(1 + (known - icmp_senders.begin()));
  if (icmp_senders.size() >= kMostSenders) return PortResult::kSenderNotKept;
  icmp_senders.push_back(v.icmp_sender);
  return uint8_t(icmp_senders.size());
}

bool from_a_router(const tcpkit::Verdict& v) { return v.reason == Reason::icmp_unreachable && !v.icmp_from_target; }

bool says_host_unreachable(const tcpkit::Verdict& v) {
  // Sent by the host itself (its firewall's reject), "unreachable" is an answer of a host that is up.
  return from_a_router(v) &&
         tcpkit::icmp_meaning(v.icmp_v6, v.icmp_type, v.icmp_code) == tcpkit::IcmpMeaning::host_unreachable;
}

std::string reason_word(const tcpkit::Verdict& v) {
  if (v.reason != Reason::icmp_unreachable) return tcpkit::to_string(v.reason);
  if (!v.icmp_v6 && v.icmp_type == 3) {
    switch (v.icmp_code) {
      case 0: case 6: return "net-unreach";
      case 1: case 7: return "host-unreach";
      case 2: return "proto-unreach";
      case 3: return "port-unreach";
      case 9: return "net-prohibited";
      case 10: return "host-prohibited";
      case 13: return "admin-prohibited";
    }
  }
  // nmap's words for ICMPv6 (RFC 4443 3.1): code 0 is "no route", not a network's answer.
  if (v.icmp_v6 && v.icmp_type == 1) {
    switch (v.icmp_code) {
      case 0: return "no-route";
      case 1: case 5: return "admin-prohibited";
      case 2: return "beyond-scope";
      case 3: return "host-unreach";
      case 4: return "port-unreach";
      case 6: return "reject-route";
    }
  }
  return "icmp-unreach";
}

std::string ack_icmp_text(const tcpkit::Verdict& v) {
  tcpkit::Verdict as_answer = v;
  as_answer.reason = Reason::icmp_unreachable;
  return reason_word(as_answer);
}

std::string reason_word(const PortResult& p) {
  std::string word = reason_word(p.verdict()) + (p.zero_window ? " (win 0)" : "");
  if (p.ack == tcpkit::AckAnswer::unasked) return word;
  // An ICMP's name takes the TTL's room: the row stays within 80 columns (JSON has ack_ttl).
  if (p.ack == tcpkit::AckAnswer::icmp) return word + " (" + tcpkit::to_string(p.ack) + " " + ack_icmp_text(p.verdict()) + ")";
  const std::string ttl = p.ack == tcpkit::AckAnswer::reset && p.ttl ? " ttl " + std::to_string(p.ttl) : "";
  return word + " (" + tcpkit::to_string(p.ack) + ttl + ")";
}

HostTable::HostTable(uint64_t ports_per_host, PortDetail detail, bool assume_up, bool silence_answers)
    : ports_per_host_(ports_per_host), detail_(detail), assume_up_(assume_up), silence_answers_(silence_answers) {}

Host* HostTable::add(const tcpkit::ScanResult& r, bool hold) {
  auto [it, fresh] = hosts_.try_emplace(r.address);
  Host& h = it->second;
  if (fresh) {
    h.address = r.address;
    // Every port comes once: room for all at once, not twice that while a vector doubles.
    if (detail_ == PortDetail::full) h.ports.reserve(ports_per_host_);
  }
  const auto& v = r.verdict;
  PortResult p{r.port, uint8_t(v.state), uint8_t(v.reason), r.ttl, v.icmp_type, v.icmp_code, v.icmp_v6, v.zero_window,
               h.keep_sender(v, r.ack), r.ack};
  if (detail_ == PortDetail::full) h.ports.push_back(p);
  if (hold) h.held.push_back(p);
  if (detail_ == PortDetail::states) h.ports_by_state[size_t(v.state)].push_back(r.port);
  ++h.states[size_t(v.state)];
  ++h.results;
  if (r.ack == tcpkit::AckAnswer::reset) ++h.ack_resets;
  if (r.ack == tcpkit::AckAnswer::silence) ++h.ack_silences;
  if (v.reason != Reason::no_response) {
    ++h.replies;
    if (says_host_unreachable(v))
      ++h.unreachable;
    else if (from_a_router(v) && ++h.router_icmp == 1)
      ++router_refused_hosts_;
    // The reply the status rests on: the host's own (TCP, or an ICMP error it sent itself) over
    // a router's ICMP whatever came first (a race made "up, host-unreach" with the router's TTL
    // when the host had answered SYN/ACK); among equals, the earliest.
    const bool own = v.reason != Reason::icmp_unreachable || v.icmp_from_target;
    const bool earlier = h.first_reply_ns == 0 || (r.time_ns != 0 && r.time_ns < h.first_reply_ns);
    if (h.replies == 1 || (own && !h.first_own) || (own == h.first_own && earlier)) {
      h.first_reply_ns = r.time_ns;
      h.first = p;
      h.first_own = own;
    }
    if (r.rtt_ns > 0 && h.first_rtt_ns == 0) h.first_rtt_ns = r.rtt_ns;
  }
  if (h.results < ports_per_host_) return nullptr;
  decide(h);
  return &h;
}

void HostTable::decide(Host& h) {
  std::sort(h.ports.begin(), h.ports.end(), [](const PortResult& a, const PortResult& b) { return a.port < b.port; });
  const bool complete = h.results >= ports_per_host_;
  if (h.replies > h.unreachable + h.router_icmp) {  // a TCP answer, or an ICMP error of its own
    h.status = HostStatus::up;
    h.reason = reason_word(h.first.verdict());
    return;
  }
  if (h.ack_resets > 0) {  // silent to SYNs, but its stack reset an ACK
    h.status = HostStatus::up;
    h.reason = "ack-reset";
    return;
  }
  if (assume_up_) {
    h.status = HostStatus::up;
    h.reason = "user-set";
    return;
  }
  if (h.router_icmp > 0) {
    // As nmap: no host discovered. Not down either: the router speaks for an address it may hold.
    h.status = HostStatus::unknown;
    h.reason = reason_word(h.first.verdict());
    const auto router = h.reason_ip(h.first);
    h.why = "only a router" + (router ? " (" + router->to_string() + ")" : std::string()) + " answered, ICMP " + h.reason +
            ": the host behind it may not exist; -Pn lists it up";
    return;
  }
  if (h.unreachable > 0) {
    h.status = HostStatus::down;
    h.reason = reason_word(h.first.verdict());
    h.why = h.reason == "net-unreach" ? "ICMP network unreachable"
            : h.reason == "no-route"  ? "ICMPv6 no route to destination"
                                      : "ICMP host unreachable";
    if (const auto router = h.reason_ip(h.first)) h.why += " from " + router->to_string();
    return;
  }
  if (!complete) return;  // interrupted before any answer: nothing is known
  // No answer on any port: what did the host say to ARP/ND? (The probes asked it.)
  const std::optional<tcpkit::NeighbourState> seen = neighbour_state(h.address);
  const bool v6 = h.address.is_v6();
  if (seen == tcpkit::NeighbourState::reachable) {  // it answered ARP/ND: up, every port filtered
    h.status = HostStatus::up;
    h.reason = v6 ? "nd-response" : "arp-response";
    return;
  }
  if (seen != tcpkit::NeighbourState::unresolved && silence_answers_) {
    // Behind a router nothing else speaks for the host: an open port's silence is all there is.
    h.status = HostStatus::unknown;
    h.reason = "no-response";
    h.why = "no reply on any port, which is all that FIN, NULL and Xmas probes draw from open ports: up with "
            "every port open|filtered, or not there (a SYN scan tells)";
    return;
  }
  h.status = HostStatus::down;
  if (seen == tcpkit::NeighbourState::unresolved) {
    h.reason = v6 ? "no-nd-response" : "no-arp-response";
    h.why = v6 ? "no neighbour discovery reply" : "no ARP reply";
  } else if (router_refused_hosts_ >= 2) {
    // Found: one firewall refusing 10 addresses' ports with ICMPv6 made 4 or 5 of them
    // "unknown" and the rest "down", by which ones its ICMP rate limit let through.
    h.status = HostStatus::unknown;
    h.reason = "no-response";
    h.why = "no reply on any port, while a router refused other hosts with ICMP: it has one ICMP budget for "
            "every host it speaks for, so its rate limit may have held this one's refusals back; -Pn lists it up";
  } else {
    h.reason = "no-response";
    h.why = h.ack_silences > 0 ? "no reply on any port, nor to an ACK" : "no reply on any port";
  }
}

void HostTable::probe_stale_neighbours(std::function<bool(const tcpkit::IpAddress&)> is_target, int cancel_fd,
                                       int interface_index) {
  is_target_ = std::move(is_target);
  cancel_fd_ = cancel_fd;
  interface_index_ = interface_index;
}

// The table's word on a host that answered nothing; a stale entry is asked again first.
std::optional<tcpkit::NeighbourState> HostTable::neighbour_state(const tcpkit::IpAddress& address) {
  if (!neighbours_) {
    auto table = tcpkit::read_neighbours();
    neighbours_ = table ? std::move(*table) : std::vector<tcpkit::Neighbour>{};
  }
  const std::optional<tcpkit::NeighbourState> seen = tcpkit::state_in_table(*neighbours_, address, interface_index_);
  if (seen != tcpkit::NeighbourState::stale || !is_target_) return seen;
  probe_neighbours();
  if (!std::binary_search(probed_addresses_.begin(), probed_addresses_.end(), address)) return seen;
  auto fresh = tcpkit::await_neighbour(address, probe_deadline_, cancel_fd_, interface_index_);
  return fresh ? *fresh : seen;
}

// Once, when the first silent host has a stale entry: every stale entry of a scanned host that
// has not answered gets its probe, so that their waits overlap (IPv4 answers at once, IPv6
// within about 2 s here, a host that is gone fails after about 3.4 s). Without CAP_NET_ADMIN the
// kernel refuses: the table's old word stands.
void HostTable::probe_neighbours() {
  if (probed_) return;
  probed_ = true;
  constexpr auto kProbeWait = std::chrono::milliseconds(4000);  // FAILED comes at about 3.4 s
  probe_deadline_ = std::chrono::steady_clock::now() + kProbeWait;
  for (const auto& n : *neighbours_) {
    if (n.state != tcpkit::NeighbourState::stale || !is_target_(n.address)) continue;
    if (interface_index_ != 0 && n.interface_index != interface_index_) continue;
    if (const Host* h = find(n.address); h && (h->replies > h->unreachable || h->ack_resets > 0)) continue;
    if (auto sent = tcpkit::probe_neighbour(n.address, n.interface_index); !sent) {
      if (sent.error().err_no == EPERM) return;  // no CAP_NET_ADMIN: no other will pass either
      continue;                                  // the entry went meanwhile
    }
    probed_addresses_.push_back(n.address);
  }
  std::sort(probed_addresses_.begin(), probed_addresses_.end());
}

std::vector<Host*> HostTable::unfinished() {
  std::vector<Host*> out;
  for (auto& [address, h] : hosts_) {
    if (h.results >= ports_per_host_) continue;
    decide(h);
    out.push_back(&h);
  }
  return out;
}

Host* HostTable::find(const tcpkit::IpAddress& address) {
  auto it = hosts_.find(address);
  return it == hosts_.end() ? nullptr : &it->second;
}

void HostTable::forget(const tcpkit::IpAddress& address) { hosts_.erase(address); }

}  // namespace tcpscan
