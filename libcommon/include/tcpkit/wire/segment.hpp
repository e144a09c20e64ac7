#pragma once
// TCP segments: crafting (IPv4/IPv6 + TCP with options) and a tolerant decoder for what
// comes back (TCP segments and ICMP/ICMPv6 errors with the header they quote).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/wire/tcp_options.hpp"

namespace tcpkit {

namespace tcp_flag {
constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20, ece = 0x40,
                  cwr = 0x80;
}

// A SYN without ACK or RST in answer to our SYN: a split handshake (the peer opens towards us
// instead of answering SYN/ACK), which nmap reads as open.
constexpr bool is_split_handshake(uint8_t flags) {
  return (flags & (tcp_flag::syn | tcp_flag::ack | tcp_flag::rst)) == tcp_flag::syn;
}

// SYN and ACK, no RST: the answer that opens a connection.
constexpr bool is_syn_ack(uint8_t flags) {
  return (flags & (tcp_flag::syn | tcp_flag::ack | tcp_flag::rst)) == (tcp_flag::syn | tcp_flag::ack);
}

// tcpdump's compact spelling: "S", "S.", "F.", "R", "R.", "P.", "FPU", "none".
std::string flags_compact(uint8_t flags);
// Upper-case names joined by '+': "SYN+ACK", "FIN+PSH+URG", "NULL".
std::string flags_names(uint8_t flags);
// Accepts "syn,ack", "SYN+ACK", "SA", "fin|psh|urg", "null", "xmas" (FIN+PSH+URG).
Result<uint8_t> parse_flags(std::string_view text);

struct SegmentSpec {
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 64240;
  uint16_t urgent = 0;
  TcpOptions options;     // written as listed, padded to 4 bytes with end-of-list
  uint8_t ttl = 64;        // hop limit for IPv6
  uint16_t ip_id = 0;      // IPv4 only
  uint32_t flow_label = 0; // IPv6 only (20 bits)
  std::vector<uint8_t> payload;
};

// The whole IP packet (IPv4 or IPv6 by the addresses' family), checksums filled in.
// src and dst must be of one family; otherwise a bad_input error.
Result<std::vector<uint8_t>> craft_segment(const SegmentSpec& spec);

struct DecodedTcp {
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0, urgent = 0;
  uint8_t header_length = 0;   // bytes
  uint32_t payload_length = 0;
  TcpOptions options;
};

// The header an ICMP error quotes: the datagram that caused it.
struct QuotedDatagram {
  IpAddress src, dst;
  uint8_t protocol = 0;
  uint16_t sport = 0, dport = 0;   // when the quote reaches that far
  std::optional<uint32_t> seq;     // TCP only, when quoted
  bool ports_known = false;
  // What a middlebox that rewrites the seq or ports leaves alone, to pair the quote by: the IPv4
  // ID, and the TCP timestamp option's TSval when the quote holds the options.
  std::optional<uint16_t> ip_id;
  std::optional<uint32_t> tsval;
};

struct DecodedIcmpError {
  bool v6 = false;
  uint8_t type = 0, code = 0;
  QuotedDatagram quoted;
  // Fragmentation needed (ICMP 3/4) and packet too big (ICMPv6 2): the next hop's MTU, when the
  // router gave one (RFC 1191; 0 from routers older than it is left out).
  std::optional<uint32_t> mtu;
  std::string description() const;  // "port unreachable", "administratively prohibited", ...
};

struct DecodedPacket {
  enum class Kind { tcp, icmp_error, other };
  Kind kind = Kind::other;
  IpAddress src, dst;
  uint8_t ttl = 0;          // TTL or hop limit
  uint16_t ip_id = 0;       // IPv4 identification (0 for IPv6)
  uint8_t protocol = 0;     // upper-layer protocol after IPv6 extension headers
  size_t ip_length = 0;     // bytes of the packet as the IP header claims (capped to what we have)
  DecodedTcp tcp;           // valid when kind == tcp
  DecodedIcmpError icmp;    // valid when kind == icmp_error
};

// Decodes an IP packet starting at its IP header (IPv4 or IPv6, by the version nibble).
// Never throws, never reads past len; returns nullopt for anything it cannot make sense of.
std::optional<DecodedPacket> decode_packet(const uint8_t* data, size_t len);

// ICMP (v4) or ICMPv6 type/code in words.
std::string icmp_description(bool v6, uint8_t type, uint8_t code);

// What an ICMP error says about the destination: the one reading every verdict built on an ICMP
// error uses (a host's status in tcpscan, the meaning of tcpprobe's ACK check).
enum class IcmpMeaning {
  host_unreachable,  // net/host unreachable or unknown (v4 0, 1, 6, 7, 11, 12; v6 no route, address)
  port_unreachable,  // v4 3, v6 4: a reject rule, most often
  refused,           // prohibited, precedence, ingress/egress policy, reject route
  other,             // protocol unreachable, fragmentation needed, beyond scope, time exceeded, ...
};
// from_target: the error came from the probed address itself, whose "host unreachable" is its
// own firewall's reject (found read as an absent host): refused.
IcmpMeaning icmp_meaning(bool v6, uint8_t type, uint8_t code, bool from_target = false);

// Sequence-space arithmetic modulo 2^32 (RFC 9293 §3.4).
inline bool seq_lt(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return int32_t(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) { return int32_t(a - b) > 0; }
inline bool seq_ge(uint32_t a, uint32_t b) { return int32_t(a - b) >= 0; }

}  // namespace tcpkit
