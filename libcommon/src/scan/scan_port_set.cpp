#include "tcpkit/scan/scan_port_set.hpp"

#include <algorithm>
#include <bit>

namespace tcpkit {

ScanPortSet::ScanPortSet(const std::vector<uint16_t>& ports) : words_(kWords, 0), before_(kWords, 0) {
  for (uint16_t p : ports) words_[p / 64] |= uint64_t(1) << (p % 64);
  uint32_t count = 0;
  for (size_t w = 0; w < kWords; ++w) {
    before_[w] = count;
    count += uint32_t(std::popcount(words_[w]));
  }
  size_ = count;
  if (!ports.empty()) {
    const auto [low, high] = std::minmax_element(ports.begin(), ports.end());
    first_ = *low;
    contiguous_ = size_t(*high) - *low + 1 == size_;
  }
}

uint16_t ScanPortSet::at(size_t i) const {
  if (contiguous_) return uint16_t(first_ + i);
  // The last word with fewer than i + 1 ports before it holds the i-th port.
  const auto it = std::upper_bound(before_.begin(), before_.end(), uint32_t(i));
  const size_t w = size_t(it - before_.begin()) - 1;
  uint64_t word = words_[w];
  if (word == ~uint64_t(0)) return uint16_t(w * 64 + (i - before_[w]));  // a full word (-p-): no bit walk
  for (size_t skip = i - before_[w]; skip > 0; --skip) word &= word - 1;  // drop the lower ports
  return uint16_t(w * 64 + size_t(std::countr_zero(word)));
}

std::optional<size_t> ScanPortSet::index_of(uint16_t port) const {
  if (words_.empty()) return std::nullopt;
  const uint64_t word = words_[port / 64];
  const uint64_t bit = uint64_t(1) << (port % 64);
  if (!(word & bit)) return std::nullopt;
  return before_[port / 64] + size_t(std::popcount(word & (bit - 1)));
}

}  // namespace tcpkit
