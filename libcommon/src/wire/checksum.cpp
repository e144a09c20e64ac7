#include "tcpkit/wire/checksum.hpp"

#include "wire/wire_bytes.hpp"

namespace tcpkit {

namespace {

constexpr uint8_t kTcp = 6, kIcmp = 1, kIcmpV6 = 58;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// A sum over a message that includes its own checksum field folds to zero when it is right.
ChecksumCheck judge(uint32_t sum) { return wire::fold(sum) == 0 ? ChecksumCheck::good : ChecksumCheck::bad; }

}  // namespace

// Found: a SYN/ACK with a wrong checksum read "open" when it was longer than the capture kept,
// a first fragment, or shorter than its IP length, because none of those could be judged and
// all were passed on. The kernel drops each; a segment whose sum cannot be checked is no answer.
ChecksumCheck verify_checksums(const uint8_t* data, size_t len) {
  if (len < 1) return ChecksumCheck::unknown;
  const unsigned version = data[0] >> 4;
  if (version == 4) {
    if (len < 20) return ChecksumCheck::unknown;
    const size_t header = size_t(data[0] & 0x0f) * 4;
    const size_t total = be16(data + 2);
    if (header < 20 || total < header || len < header) return ChecksumCheck::unknown;
    if (judge(wire::sum_words(data, header)) == ChecksumCheck::bad) return ChecksumCheck::bad;
    if (data[9] != kIcmp && data[9] != kTcp) return ChecksumCheck::unknown;
    if ((be16(data + 6) & 0x3fff) != 0) return ChecksumCheck::unverifiable;  // a fragment (MF or an offset)
    if (len < total) return ChecksumCheck::unverifiable;
    const uint8_t* l4 = data + header;
    const size_t l4_length = total - header;
    if (l4_length < (data[9] == kTcp ? 20u : 4u)) return ChecksumCheck::unverifiable;  // no room for its header
    if (data[9] == kIcmp) return judge(wire::sum_words(l4, l4_length));
    const uint32_t pseudo = wire::sum_words(data + 12, 8) + kTcp + uint32_t(l4_length);
    return judge(wire::sum_words(l4, l4_length, pseudo));
  }
  if (version == 6) {
    if (len < 40) return ChecksumCheck::unknown;
    const size_t end = 40 + size_t(be16(data + 4));
    uint8_t next = data[6];
    size_t at = 40;
    // Hop-by-hop, routing and destination options: 8 bytes and 8 per unit of their length byte;
    // the authentication header counts in units of 4, less 2.
    constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kAuthentication = 51, kDestination = 60;
    for (int headers = 0;
         (next == kHopByHop || next == kRouting || next == kDestination || next == kAuthentication) && headers < 8;
         ++headers) {
      if (at + 8 > len || at + 8 > end) return ChecksumCheck::unverifiable;
      const size_t size = next == kAuthentication ? (size_t(data[at + 1]) + 2) * 4 : 8 + size_t(data[at + 1]) * 8;
      next = data[at];
      at += size;
    }
    // A fragment header of offset 0 and no more fragments (an atomic fragment, RFC 6946) holds
    // the whole packet; any other is a piece whose sum cannot be checked.
    if (next == kFragment) {
      if (at + 8 > len || at + 8 > end) return ChecksumCheck::unverifiable;
      if ((be16(data + at + 2) & 0xfff9) != 0) return ChecksumCheck::unverifiable;  // offset, or M
      next = data[at];
      at += 8;
    }
    if (next != kTcp && next != kIcmpV6) return ChecksumCheck::unknown;
    if (at > end || len < end) return ChecksumCheck::unverifiable;
    const size_t l4_length = end - at;
    if (l4_length < (next == kTcp ? 20u : 4u)) return ChecksumCheck::unverifiable;
    const uint32_t pseudo = wire::sum_words(data + 8, 32) + next + uint32_t(l4_length);
    return judge(wire::sum_words(data + at, l4_length, pseudo));
  }
  return ChecksumCheck::unknown;
}

size_t ip_claimed_length(const uint8_t* data, size_t len) {
  if (len >= 20 && (data[0] >> 4) == 4) return be16(data + 2);
  if (len >= 40 && (data[0] >> 4) == 6) return 40 + size_t(be16(data + 4));
  return 0;
}

}  // namespace tcpkit
