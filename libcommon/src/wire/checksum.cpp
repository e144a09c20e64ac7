#include "tcpkit/wire/checksum.hpp"

#include "wire/wire_bytes.hpp"

namespace tcpkit {

namespace {

constexpr uint8_t kTcp = 6, kIcmp = 1, kIcmpV6 = 58;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// A sum over a message that includes its own checksum field folds to zero when it is right.
ChecksumCheck judge(uint32_t sum) { return wire::fold(sum) == 0 ? ChecksumCheck::good : ChecksumCheck::bad; }

}  // namespace

ChecksumCheck verify_checksums(const uint8_t* data, size_t len) {
  if (len < 1) return ChecksumCheck::unknown;
  const unsigned version = data[0] >> 4;
  if (version == 4) {
    if (len < 20) return ChecksumCheck::unknown;
    const size_t header = size_t(data[0] & 0x0f) * 4;
    const size_t total = be16(data + 2);
    if (header < 20 || total < header || len < header) return ChecksumCheck::unknown;
    if (judge(wire::sum_words(data, header)) == ChecksumCheck::bad) return ChecksumCheck::bad;
    if ((be16(data + 6) & 0x3fff) != 0) return ChecksumCheck::unknown;  // a fragment (MF or an offset)
    if (len < total) return ChecksumCheck::unknown;                       // cut by the capture
    const uint8_t* l4 = data + header;
    const size_t l4_length = total - header;
    if (data[9] == kIcmp) return l4_length >= 4 ? judge(wire::sum_words(l4, l4_length)) : ChecksumCheck::unknown;
    if (data[9] != kTcp || l4_length < 20) return ChecksumCheck::unknown;
    const uint32_t pseudo = wire::sum_words(data + 12, 8) + kTcp + uint32_t(l4_length);
    return judge(wire::sum_words(l4, l4_length, pseudo));
  }
  if (version == 6) {
    if (len < 40) return ChecksumCheck::unknown;
    const size_t l4_length = be16(data + 4);
    const uint8_t next = data[6];
    if (next != kTcp && next != kIcmpV6) return ChecksumCheck::unknown;  // extension headers: not judged
    if (len < 40 + l4_length || l4_length < (next == kTcp ? 20u : 4u)) return ChecksumCheck::unknown;
    const uint32_t pseudo = wire::sum_words(data + 8, 32) + next + uint32_t(l4_length);
    return judge(wire::sum_words(data + 40, l4_length, pseudo));
  }
  return ChecksumCheck::unknown;
}

}  // namespace tcpkit
