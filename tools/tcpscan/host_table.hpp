#pragma once
// Scan results gathered per host: which hosts are complete (every port has a state), and
// whether a host is up, down or unknown. A host that never answered anything (no reply on any
// port, its ARP/ND never resolved, or only ICMP host/net unreachable) is down, unless -Pn.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/io/neighbours.hpp"
#include "tcpkit/scan/scan_engine.hpp"

namespace tcpscan {

// One port's result, kept small: a -p- scan holds 65,535 per host until the host is complete.
struct PortResult {
  uint16_t port = 0;
  uint8_t state = 0, reason = 0, ttl = 0, icmp_type = 0, icmp_code = 0;
  // Bits, so that a port keeps to 10 bytes (a host's 65535 ports are kept in full detail).
  bool icmp_v6 : 1 = false;
  bool zero_window : 1 = false;  // a SYN/ACK with no window: a SYN proxy's (Verdict::zero_window)
  // Who sent its ICMP error, when not the probed address: 1 + its index in Host::icmp_senders,
  // or kSenderNotKept; 0 for the address itself (and for no ICMP at all).
  uint8_t sender : 6 = 0;
  tcpkit::AckAnswer ack = tcpkit::AckAnswer::unasked;  // what an ACK drew, for a silent port asked
  static constexpr uint8_t kSenderNotKept = 63;
  // Without the sender's address: Host::verdict(p) has it.
  tcpkit::Verdict verdict() const;
};
static_assert(sizeof(PortResult) == 10, "a port's result is kept for every port of a host: keep it small");

enum class HostStatus { up, down, unknown };

// What a report needs of each port: nothing past the counts (streamed forms), the port by
// state only (grepable: 2 bytes a port, as the old reporter kept it), or every detail (grouped
// text, XML).
enum class PortDetail { counts, states, full };

struct Host {
  tcpkit::IpAddress address;
  std::vector<PortResult> ports;  // PortDetail::full: in arrival order; sorted by port once complete
  // Streamed forms: results held back while the host might turn out down (no answer, or only
  // ICMP host/net unreachable, so far); written once the host is known to be up.
  std::vector<PortResult> held;
  std::array<std::vector<uint16_t>, tcpkit::kPortStateCount> ports_by_state;  // PortDetail::states
  std::array<uint64_t, tcpkit::kPortStateCount> states{};
  uint64_t results = 0, replies = 0, unreachable = 0;  // unreachable: ICMP host/net unreachable
  uint64_t ack_resets = 0;     // silent ports whose ACK drew an RST: the host is there
  uint64_t ack_silences = 0;   // silent ports whose ACKs drew nothing either
  // ICMP errors a router sent for the host that do not say it is unreachable (prohibited, say):
  // no sign of the host itself (found: a router's host-prohibited for addresses where no host
  // was made every one of them "up", and its ICMP rate limit a random few).
  uint64_t router_icmp = 0;
  int64_t first_reply_ns = 0;  // kernel receive time of `first`
  int64_t first_rtt_ns = 0;    // the RTT of the first reply that has one, 0 when unknown
  // The routers and firewalls whose ICMP errors spoke for its ports (PortResult::sender), at
  // most kMostSenders: a path has a few.
  std::vector<tcpkit::IpAddress> icmp_senders;
  static constexpr size_t kMostSenders = PortResult::kSenderNotKept - 1;
  PortResult first;            // the reply the status rests on: the host's own first, else a router's
  bool first_own = false;      // first is the host's own answer (TCP, or its own ICMP)
  HostStatus status = HostStatus::unknown;
  std::string reason;          // nmap's word: syn-ack, reset, arp-response, user-set, no-response...
                               // (ack-reset: it answered only the ACK check)
  std::string why;             // for a down host, in words: "no ARP reply"

  // A port's verdict with who sent its ICMP error (icmp_sender, icmp_from_target).
  tcpkit::Verdict verdict(const PortResult& p) const;
  // The router or firewall whose ICMP error answered p's SYN (reason_ip, nmap's), or either the
  // SYN or the ACK check's ACK (icmp_sender); empty when the host itself answered, nothing did,
  // or the sender was not kept.
  std::optional<tcpkit::IpAddress> reason_ip(const PortResult& p) const;
  std::optional<tcpkit::IpAddress> icmp_sender(const PortResult& p) const;
  // Keeps a sender that is not the host; returns PortResult::sender's value for it.
  uint8_t keep_sender(const tcpkit::Verdict& v, tcpkit::AckAnswer ack);
};

class HostTable {
 public:
  // silence_answers: the probes draw nothing from an open port (FIN, NULL, Xmas), so a host that
  // answered nothing is not known to be down.
  HostTable(uint64_t ports_per_host, PortDetail detail, bool assume_up, bool silence_answers = false);

  // Adds a result (into Host::held too when hold is set); returns the host when this result
  // completed it (its status decided).
  Host* add(const tcpkit::ScanResult& r, bool hold = false);
  // Hosts not complete at the end (an interrupted scan), by address; statuses decided.
  std::vector<Host*> unfinished();
  // The host of an address, if any result for it arrived.
  Host* find(const tcpkit::IpAddress& address);
  // Removes a host that has been reported (its memory is no longer needed).
  void forget(const tcpkit::IpAddress& address);
  // A host that answered nothing, but that the kernel's neighbour table knows from before
  // (STALE, DELAY: no fresh evidence), is asked again with a unicast ARP/ND probe, if
  // is_target says it was scanned: without this, a host that drops every probe was up or down
  // by what the table held before the scan. Unset (a dry run), no probe goes out.
  // interface_index: the scan's one interface, whose neighbour entries alone speak for its
  // hosts (0: it has several, any entry does).
  void probe_stale_neighbours(std::function<bool(const tcpkit::IpAddress&)> is_target, int cancel_fd,
                              int interface_index);

 private:
  void decide(Host& h);
  std::optional<tcpkit::NeighbourState> neighbour_state(const tcpkit::IpAddress& address);
  void probe_neighbours();

  uint64_t ports_per_host_;
  PortDetail detail_;
  bool assume_up_;
  bool silence_answers_;
  std::map<tcpkit::IpAddress, Host> hosts_;
  std::optional<std::vector<tcpkit::Neighbour>> neighbours_;  // read once, when first needed
  std::function<bool(const tcpkit::IpAddress&)> is_target_;
  int cancel_fd_ = -1;
  int interface_index_ = 0;
  // Hosts of the scan that a router (a sender other than the host) refused with ICMP
  // (prohibited, port unreachable: not host/net unreachable). A router with two or more such has
  // one ICMP budget for all the hosts it speaks for, so another host's silence may be its
  // refusals held back. (A host's own refusals spend only its own budget: they say nothing of
  // the others.)
  uint64_t router_refused_hosts_ = 0;
  bool probed_ = false;                             // the probes went out (once, for all)
  std::vector<tcpkit::IpAddress> probed_addresses_;  // sorted
  std::chrono::steady_clock::time_point probe_deadline_;
};

// The verdict is an ICMP error a router sent, not the probed address itself.
bool from_a_router(const tcpkit::Verdict& v);
// The verdict is such an ICMP error from a router (the host counts it as unreachable, not as an
// answer).
bool says_host_unreachable(const tcpkit::Verdict& v);

// nmap's word for a port's reason: syn-ack, reset, no-response, port-unreach, admin-prohibited...
std::string reason_word(const tcpkit::Verdict& v);
// The same, with what the ACK check drew: "no-response (ack-reset ttl 64)".
std::string reason_word(const PortResult& p);
// The ICMP error an ACK check's ACK drew (the verdict's icmp fields), in those words: "admin-prohibited".
std::string ack_icmp_text(const tcpkit::Verdict& v);

}  // namespace tcpscan
