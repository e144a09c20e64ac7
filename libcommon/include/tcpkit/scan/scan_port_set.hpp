#pragma once
// The ports of a scan as a bitmap with a running count per 64-bit word: 12 KiB whatever the
// list, where a list of all 65535 ports as numbers would hold 128 KiB for the whole scan.
// The n-th port and a port's position are found in O(log) time (the plan asks per probe).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace tcpkit {

class ScanPortSet {
 public:
  ScanPortSet() = default;
  // Ports in any order; a repeated port counts once.
  explicit ScanPortSet(const std::vector<uint16_t>& ports);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The i-th port in ascending order (i < size()).
  uint16_t at(size_t i) const;
  // The position of port in ascending order, if it is in the set.
  std::optional<size_t> index_of(uint16_t port) const;

 private:
  static constexpr size_t kWords = 65536 / 64;
  std::vector<uint64_t> words_;     // bit p % 64 of word p / 64: port p is in the set
  std::vector<uint32_t> before_;    // ports in the words before each word
  uint32_t first_ = 0;              // the lowest port
  bool contiguous_ = false;         // every port from first_ to first_ + size_ - 1 (-p-, -p 1-1024): at() adds
  size_t size_ = 0;
};

}  // namespace tcpkit
