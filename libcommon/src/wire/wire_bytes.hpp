#pragma once
// Network-order stores and loads, and the Internet checksum (RFC 1071), shared by the crafter,
// the decoders and the scanner's template patcher (private to the library's sources).
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tcpkit::wire {

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// Adds n bytes to a running one's-complement sum as 16-bit big-endian words (an odd last
// byte is padded with zero).
inline uint32_t sum_words(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += uint32_t(p[n - 1] << 8);
  return sum;
}

// Folds the carries in and complements: the value that goes into a checksum field.
inline uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// Untrusted received bytes: every read is checked with has() first, and a view never reaches
// past the bytes it was made from.
struct View {
  const uint8_t* data;
  size_t size;
  bool has(size_t offset, size_t n) const { return offset <= size && n <= size - offset; }
  uint8_t u8(size_t o) const { return data[o]; }
  uint16_t u16(size_t o) const { return uint16_t(data[o] << 8 | data[o + 1]); }
  uint32_t u32(size_t o) const {
    return uint32_t(data[o]) << 24 | uint32_t(data[o + 1]) << 16 | uint32_t(data[o + 2]) << 8 | data[o + 3];
  }
  View from(size_t offset) const { return offset <= size ? View{data + offset, size - offset} : View{data, 0}; }
  View first(size_t n) const { return View{data, std::min(n, size)}; }
};

}  // namespace tcpkit::wire
