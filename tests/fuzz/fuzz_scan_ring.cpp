// The TPACKET_V3 block walker on an arbitrary block (as if the kernel had filled it). Beyond
// "no crash": every packet handed over lies inside the block, and the count is right.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "fuzz_check.hpp"
#include "tcpkit/io/scan_ring.hpp"

using namespace tcpkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Aligned like the kernel's blocks, and exactly `size` bytes so ASan sees overreads.
  void* block = nullptr;
  if (posix_memalign(&block, 64, size) != 0) return 0;
  std::memcpy(block, data, size);
  const auto* begin = static_cast<const uint8_t*>(block);
  size_t calls = 0;
  const size_t handed = walk_ring_block(begin, size, [&](const uint8_t* packet, size_t length, int64_t) {
    FUZZ_CHECK(packet >= begin && packet <= begin + size && length <= size_t(begin + size - packet));
    ++calls;
  });
  FUZZ_CHECK(handed == calls);
  std::free(block);
  return 0;
}
