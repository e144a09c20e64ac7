#pragma once
// Which of a path trace's probes a packet is, or quotes, or answers. Each probe k carries
// first + k in three fields: the IPv4 IP ID (16 bits), the sequence number and the timestamp
// option's TSval (32 bits each). Every quote to our address reaches every trace's capture
// (--flows runs several at once), so each field is compared at its own width: a sequence number
// another flow's probe shares only in its low 16 bits is not ours.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

struct ProbeIds {
  bool v6 = false;
  uint16_t first_id = 0;
  uint32_t first_seq = 0, first_ts = 0;
  bool timestamps = false;
  size_t count = 0;
  uint16_t sport = 0;  // the probes' source port: a quote matched by its IP ID or TSval alone must show it

  // Our own probe leaving (the capture's outgoing copy): the IP ID, over IPv6 the seq.
  std::optional<size_t> of_sent(const DecodedPacket& d) const;
  // The datagram an ICMP error quotes (as decode_packet read it), when it is one of our probes
  // to destination. IPv4: the IP ID, which middleboxes leave alone far more often than the
  // sequence number or the ports; but where the quote's sequence number and TSval agree on
  // another probe, or the ID names none (a router that rewrites IDs), the sequence number, else
  // the TSval (a router that rewrites both). An ID is 16 bits: a quote that only its ID makes
  // ours, with another source port, is another trace's probe. IPv6: the
  // sequence number, or where a middlebox rewrote it, the TSval. The seq is random per trace,
  // the TSval base unless the user gave one: a TSval alone counts only with our source port.
  std::optional<size_t> of_quote(const QuotedDatagram& q, const IpAddress& destination) const;
  // The probe the destination's SYN/ACK or RST answers: its ack is that probe's seq + 1, or
  // where a middlebox rewrote the seq without translating the ack back, its TSecr echoes that
  // probe's TSval (when the SYN carries timestamps).
  std::optional<size_t> of_answer(const DecodedPacket& d) const;

 private:
  std::optional<size_t> by_id(uint16_t id) const;
  std::optional<size_t> by_32(uint32_t value, uint32_t first) const;  // seq or TSval
};

}  // namespace tcpkit
