#pragma once
// What a path trace found, put together: each change of the SYN attributed to the pair of hops
// it happened between, where the SYN stopped (or that it arrived), and the verdict in words.
// Pure: the trace collects the hops, this only reads them (and is unit-tested on its own).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/wire/hop_distance.hpp"
#include "tcpkit/wire/icmp_extensions.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/segment_diff.hpp"
#include "tcpkit/wire/tcp_options.hpp"

namespace tcpkit {

// One hop (one TTL or hop limit) as its answers showed it.
struct HopAnswer {
  int hop = 0;                        // 1-based: the TTL we sent
  std::optional<IpAddress> router;    // nullopt: no answer
  std::optional<SegmentDiff> diff;    // of the quote, when it was a quote of our SYN
  bool unreachable = false;           // the router refused the SYN instead of expiring it
  bool v6 = false;
  uint8_t icmp_type = 0, icmp_code = 0;
  std::optional<IcmpExtensions> extensions;  // RFC 4884 objects after the quote (MPLS labels...)
  bool several_routers = false;  // other routers answered this hop's probes too (per-packet balancing)
};

// What the destination sent back to a SYN that reached it.
struct DestinationAnswer {
  IpAddress from;
  uint8_t flags = 0;   // SYN+ACK or RST(+ACK)
  TcpOptions options;
  uint8_t ttl = 0;     // its TTL (hop limit) on arrival; 0: not known
  int hop = 0;         // the first TTL of ours that got it (0: not known)
  // Set when the answer came from another port than the one probed: something on the way
  // rewrote the SYN's destination port and nothing rewrote the answer back.
  std::optional<uint16_t> other_port;
  uint16_t probed_port = 0;
  // Its ack names none of our SYNs (nor does its TSecr): something on the way changed the SYN's
  // sequence number and nothing changed the answer's ack back. It answers one of them all the same.
  bool unpaired = false;
};

// A change first seen in the quote from hop `to`: it happened after hop `from` (the last hop
// whose quote showed that field unchanged; 0 is the sender) and before hop `to` handed it back.
struct AttributedChange {
  FieldChange change;
  int from = 0, to = 0;
};
// "between hop 2 and hop 3", "between the sender and hop 1".
std::string attribution_text(const AttributedChange& change);
// "MSS clamped to 1200", "SACK-permitted stripped", "window 64240 -> 1000".
std::string change_phrase(const FieldChange& change);

// past_max_hops: the last hop probed (-m) still sent time exceeded: nothing stopped the SYN
// within the hops probed, and the destination is further away. loop: a router answered again
// further on, after another: the SYN goes round a routing loop and never arrives.
enum class PathStop { reached, dropped, rejected, no_answer, past_max_hops, loop };
// "reached", "dropped", "rejected", "no answer", "past max hops", "routing loop"
const char* path_stop_name(PathStop stop);

// The first turn of a routing loop: a router's time exceeded at hop `hops.front()` and again at
// hop `again`, with another router's in between (one router at two hops in a row is not a
// loop: it answered for a hop it did not forward). hops: those of the turn that answered, in
// TTL order. Empty: no loop, or a hop from there on answered by several routers (per-packet
// load balancing: which one a hop shows is chance). Answers from the address probed (a NAT's
// rewrite) are left out. confirmed: the turn repeats past its first pair (two hops, each with
// the router of the hop a turn before): one pair alone may be load balancing over paths of
// unequal length.
struct LoopTurn {
  std::vector<int> hops;
  std::vector<IpAddress> routers;  // of those hops, in the same order
  int again = 0;
  bool confirmed = false;
};
LoopTurn loop_turn(const std::vector<HopAnswer>& hops, const std::optional<IpAddress>& probed = std::nullopt);

struct PathSummary {
  std::vector<AttributedChange> changes;
  PathStop stop = PathStop::no_answer;
  int last_hop = 0;                    // the last hop that answered (0: none)
  std::optional<IpAddress> last_router;
  std::string rejection;               // "communication administratively prohibited" when rejected
  // The destination's answer came, by its TTL, from a nearer hop than the first TTL that got it:
  // a middlebox there (a firewall's reset, a SYN proxy) answered in the destination's name, and
  // the SYN may never have reached it. 0: no such sign.
  int answered_from_hop = 0;
  // That hop drew no answer at all from our probes: no router is seen there, so the destination
  // may be there itself, its answers to that hop's probes lost (a lossy path looks so), as well
  // as a silent middlebox; the verdict names no middlebox then.
  bool answered_from_silent_hop = false;
  // The other way: by its TTL the answer came from further than the first TTL that got it. A
  // router that raises the TTL of what it forwards (TTL normalisation) lets a short TTL reach the
  // destination and hides the hops beyond itself; a longer way back shows the same. 0: no sign.
  int answered_from_further_hop = 0;
  // Hops whose time exceeded came from the address probed, which no router on the way to it
  // has: a destination NAT (port forwarding) gives that address to its own ICMP errors and to
  // those of the routers beyond it as it translates their quotes back (Linux conntrack does), so
  // which routers these are is not known. Empty: no such sign.
  std::vector<int> nat_rewritten_hops;
  // Nothing answered, and the next hop's neighbour entry says it was asked (ARP, ND) and never
  // answered: the SYNs never left this host.
  bool next_hop_unresolved = false;
  // stop == loop: the routers of one turn of it, in the order the SYN met them.
  std::vector<IpAddress> loop_routers;
  std::string verdict;                 // one paragraph

  bool nat_rewritten(int hop) const {
    return std::find(nat_rewritten_hops.begin(), nat_rewritten_hops.end(), hop) != nat_rewritten_hops.end();
  }
};

// hops in TTL order (gaps allowed); destination: the answer from the target, if any; probed:
// the address the SYNs were sent to; max_hop: the highest TTL probed (0: not known).
PathSummary summarize_path(const std::vector<HopAnswer>& hops, const std::optional<DestinationAnswer>& destination,
                           const std::optional<IpAddress>& probed = std::nullopt, int max_hop = 0);

}  // namespace tcpkit
