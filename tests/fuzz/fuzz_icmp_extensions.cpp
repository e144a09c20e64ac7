// The ICMP extension decoder (RFC 4884 structures, MPLS and interface objects) on arbitrary
// bytes, as ICMPv4 and as ICMPv6. Beyond "no crash": what it returns fits in the input (every
// MPLS entry and object took bytes of it) and names are printable.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "tcpkit/wire/icmp_extensions.hpp"

using namespace tcpkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan sees any read past the end.
  const std::vector<uint8_t> bytes(data, data + size);
  for (bool v6 : {false, true}) {
    const auto ext = decode_icmp_extensions(bytes.data(), bytes.size(), v6);
    if (!ext) continue;
    FUZZ_CHECK(size >= 8 + 128 + 4);
    size_t used = 4 * ext->mpls.size();
    for (const auto& o : ext->other) used += o.length;
    FUZZ_CHECK(used <= size - 8 - 128);
    for (const auto& i : ext->interfaces)
      for (char c : i.name) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  }
  return 0;
}
