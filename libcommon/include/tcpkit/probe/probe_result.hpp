#pragma once
// What one handshake probe found, whichever way it was sent (raw SYN or connect()).
#include <cstdint>
#include <optional>
#include <string>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

enum class ProbeOutcome {
  open,         // SYN/ACK (or connect() succeeded)
  closed,       // RST
  filtered,     // no answer before the timeout
  unreachable,  // an ICMP error about our SYN
};
const char* to_string(ProbeOutcome outcome);

struct ProbeReply {
  uint64_t probe_id = 0;         // the caller's sequence number
  // Another answer to a probe already answered (the network duplicated it, or the peer
  // repeated it): rtt_ns is from that probe's SYN. Never counted as an answer.
  bool duplicate = false;
  // Set on such a later answer whose outcome differs from the first one's (an RST after a
  // SYN/ACK, a SYN/ACK after an ICMP error): two parties answer for the target, as a SYN proxy
  // and the server behind it or two hosts with one address. It holds the first outcome, the
  // one the probe was reported with (found shown as "(DUP!)", an identical copy).
  std::optional<ProbeOutcome> conflicts_with;
  ProbeOutcome outcome = ProbeOutcome::filtered;
  IpAddress responder;           // the target, or the router that sent the ICMP error
  uint16_t source_port = 0;
  uint32_t isn = 0;
  int64_t sent_ns = 0;           // CLOCK_REALTIME of our SYN
  std::optional<int64_t> rtt_ns; // absent when nothing came back
  TimestampSource timestamps = TimestampSource::kernel;  // of both ends of rtt_ns
  // From the answering segment (open and closed):
  uint8_t ttl = 0;
  uint16_t window = 0;
  uint8_t flags = 0;
  TcpOptions options;
  // From an ICMP error (unreachable):
  bool icmp_v6 = false;
  uint8_t icmp_type = 0, icmp_code = 0;
  std::string icmp_text;
  bool quote_rewritten = false;  // the quote's seq or source port were not ours: paired by IP ID / TSval
  // syn mode, open: the answer was a pure ACK for this earlier probe's SYN on the same 4-tuple
  // (-s): the peer still held that probe's connection, as when a firewall drops our RSTs.
  std::optional<uint64_t> held_by;
  // That probe's SYN/ACK never reached us (it timed out, or still waits): no RST of ours ended
  // its connection, the peer kept it, resending its SYN/ACK, and the port pair came round again.
  bool held_unanswered = false;
  // syn mode, open with no SYN/ACK of its own: a later probe's answer (an ACK of this probe's
  // ISN+1, held_by) showed the peer holding its connection; no round trip (rtt_ns absent).
  std::optional<uint64_t> shown_open_by;
  // syn mode, open: the peer's SYN/ACK sent again, its first lost (ResentSynAckJudge), this many
  // seconds (its timeout, 1 or 3) after a normal answer would have come; rtt_ns holds that
  // timeout, not a round trip. 0: not so.
  int syn_ack_resent_after_s = 0;
  // connect() mode only:
  std::optional<int64_t> connect_ns;      // user-space time of connect()
  std::optional<uint32_t> kernel_rtt_us;  // the kernel's RTT estimate (TCP_INFO tcpi_rtt)
  // SYNs the kernel sent again before the handshake completed (TCP_INFO tcpi_total_retrans of
  // the new connection): then rtt_ns holds its retransmission timeout, not a round trip.
  uint32_t syn_retransmits = 0;
  // The handshake completed and an RST came at once, before connect() could report it
  // (ECONNRESET): a SYN proxy whose server refused the port, or a server that resets at once.
  // Open, for the handshake; rtt_ns then runs to the RST.
  bool reset_after_handshake = false;
  // syn mode, open: the answer was a bare SYN (a split handshake), no SYN/ACK; its window and
  // options are the peer's SYN's.
  bool split_handshake = false;
  // syn mode, filtered: our SYN never left this host (no send stamp, not seen at the tap): the
  // next hop did not answer ARP or neighbour discovery, so the target never heard of it.
  bool unsent = false;
};

}  // namespace tcpkit
