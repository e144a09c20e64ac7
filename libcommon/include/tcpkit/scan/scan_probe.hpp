#pragma once
// The scanner's vocabulary: a probe template patched per target (crafting every probe whole
// would allocate and build options per packet), the port states and reasons, the numbers a
// probe carries and the stateless cookie check on replies. The kinds of probe and how each
// reads its replies are in probe_kind.hpp.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

// What PacketTemplate patches into each packet.
struct PacketFields {
  IpAddress dst;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t ip_id = 0;  // IPv4 only
};

// One crafted IPv4/IPv6 + TCP packet whose destination, ports, sequence numbers and IP id are
// patched in place; checksums are recomputed. The bytes equal craft_segment()'s for the same spec.
class PacketTemplate {
 public:
  // spec gives everything that stays fixed (source address, flags, window, options, TTL);
  // its dst only chooses the family.
  static Result<PacketTemplate> make(const SegmentSpec& spec);

  size_t size() const { return bytes_.size(); }
  bool v6() const { return v6_; }
  // Writes size() bytes to out.
  void write(uint8_t* out, const PacketFields& fields) const;

 private:
  std::vector<uint8_t> bytes_;
  bool v6_ = false;
  size_t tcp_offset_ = 0;
};

enum class PortState { open, closed, filtered, unfiltered, open_filtered };
constexpr int kPortStateCount = 5;
// "open", "closed", "filtered", "unfiltered", "open|filtered".
const char* to_string(PortState state);

// How a probe kind reads replies, the way nmap reads its scan types: like -sS, like -sA, or
// like -sF/-sN/-sX.
enum class ProbeStyle { syn, ack, fin_like };
// The state of a port that never answered.
PortState no_reply_state(ProbeStyle style);
// The state a scan of this style counts as found (open for SYN, unfiltered for ACK,
// open|filtered for FIN-like probes).
PortState positive_state(ProbeStyle style);

enum class Reason { syn_ack, syn, reset, icmp_unreachable, no_response };
// nmap's words: "syn-ack", "syn", "reset", "icmp-unreach", "no-response".
const char* to_string(Reason reason);

// What one ACK to a port that drew nothing said, when scan_ack_check.hpp asked it: an RST
// (segments reach the port's stack, only SYNs are dropped), an ICMP error (a firewall or router
// refuses the ACK and drops the SYN unanswered), or nothing.
enum class AckAnswer : uint8_t { unasked, reset, silence, icmp };
// "", "ack-reset", "ack-silence", "ack-icmp".
const char* to_string(AckAnswer answer);

struct Verdict {
  PortState state = PortState::filtered;
  Reason reason = Reason::no_response;
  uint8_t icmp_type = 0, icmp_code = 0;  // when reason is icmp_unreachable, or the ACK check drew one
  bool icmp_v6 = false;
  // The ICMP error came from the probed address itself (a firewall on the host rejecting with
  // "host unreachable"): whatever its code says, that host is up.
  bool icmp_from_target = false;
  // Who sent the ICMP error (reason icmp_unreachable): the probed address, or a router or
  // firewall on the way, which speaks for the port (nmap's reason_ip).
  IpAddress icmp_sender;
  // An open port whose SYN/ACK advertised a zero window: no stack answers its own SYN so, but
  // a SYN proxy (netfilter SYNPROXY) does, for every port it guards, listened on or not.
  bool zero_window = false;
};

// What a probe carried in its sequence fields.
struct ProbeNumbers {
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
};
// The cookie's low half is the probe's seq; its high half its ack, when the flags carry ACK.
ProbeNumbers probe_numbers(uint8_t flags, uint64_t cookie);
// The IPv4 id of a probe: the cookie's top bits (so that retransmitted probes differ).
inline uint16_t probe_ip_id(uint64_t cookie) { return uint16_t(cookie >> 48); }

// Whether a decoded reply answers this probe (RFC 9293 §3.10.7.1 for resets): an ACK-bearing
// reply must acknowledge seq + SYN + FIN; a bare RST to an ACK probe carries the probe's ack as
// its seq; an ICMP error must quote the probe's seq. Anything else does not prove it.
bool reply_matches_probe(const ProbeNumbers& probe, const DecodedPacket& reply);

}  // namespace tcpkit
