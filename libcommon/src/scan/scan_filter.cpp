#include "tcpkit/scan/scan_filter.hpp"

#include <linux/filter.h>

#include <cstddef>
#include <iterator>

namespace tcpkit {

namespace {
// One instruction with absolute jump targets; classic BPF only jumps forward.
struct Step {
  uint16_t code;
  uint32_t k;
  size_t jt = 0, jf = 0;  // absolute indices, for conditional jumps
};
}  // namespace

std::vector<BpfInstruction> scan_reply_filter(uint16_t first_port, uint16_t last_port, uint32_t snaplen) {
  enum : size_t { kV4 = 11, kV4Tcp = 16, kPortLow = 20, kPortHigh = 21, kIcmp4 = 22, kAccept = 23, kDrop = 24 };
  const Step steps[] = {
      /* 0 */ {BPF_LD | BPF_B | BPF_ABS, 0},  // IP version
      /* 1 */ {BPF_ALU | BPF_AND | BPF_K, 0xf0},
      /* 2 */ {BPF_JMP | BPF_JEQ | BPF_K, 0x60, 3, kV4},
      /* 3 */ {BPF_LD | BPF_B | BPF_ABS, 6},  // IPv6 next header
      /* 4 */ {BPF_JMP | BPF_JEQ | BPF_K, 6, 5, 7},
      /* 5 */ {BPF_LD | BPF_H | BPF_ABS, 40 + 2},  // TCP destination port
      /* 6 */ {BPF_JMP | BPF_JGE | BPF_K, first_port, kPortHigh, kDrop},
      /* 7 */ {BPF_JMP | BPF_JEQ | BPF_K, 58, kAccept, 8},  // ICMPv6
      /* 8 */ {BPF_JMP | BPF_JEQ | BPF_K, 44, 9, kDrop},    // a fragment header first
      /* 9 */ {BPF_LD | BPF_B | BPF_ABS, 40},
      /* 10 */ {BPF_JMP | BPF_JEQ | BPF_K, 58, kAccept, kDrop},
      /* 11 kV4 */ {BPF_LD | BPF_B | BPF_ABS, 0},
      /* 12 */ {BPF_ALU | BPF_AND | BPF_K, 0xf0},
      /* 13 */ {BPF_JMP | BPF_JEQ | BPF_K, 0x40, 14, kDrop},
      /* 14 */ {BPF_LD | BPF_B | BPF_ABS, 9},  // IPv4 protocol
      /* 15 */ {BPF_JMP | BPF_JEQ | BPF_K, 6, kV4Tcp, kIcmp4},
      /* 16 kV4Tcp */ {BPF_LD | BPF_H | BPF_ABS, 6},  // a later fragment has no TCP header
      /* 17 */ {BPF_JMP | BPF_JSET | BPF_K, 0x1fff, kDrop, 18},
      /* 18 */ {BPF_LDX | BPF_B | BPF_MSH, 0},  // X = IPv4 header length
      /* 19 */ {BPF_LD | BPF_H | BPF_IND, 2},
      /* 20 kPortLow */ {BPF_JMP | BPF_JGE | BPF_K, first_port, kPortHigh, kDrop},
      /* 21 kPortHigh */ {BPF_JMP | BPF_JGT | BPF_K, last_port, kDrop, kAccept},
      /* 22 kIcmp4 */ {BPF_JMP | BPF_JEQ | BPF_K, 1, kAccept, kDrop},
      /* 23 kAccept */ {BPF_RET | BPF_K, snaplen},
      /* 24 kDrop */ {BPF_RET | BPF_K, 0},
  };
  static_assert(std::size(steps) == kDrop + 1);
  std::vector<BpfInstruction> out;
  out.reserve(std::size(steps));
  for (size_t i = 0; i < std::size(steps); ++i) {
    const Step& s = steps[i];
    BpfInstruction in{s.code, 0, 0, s.k};
    if (BPF_CLASS(s.code) == BPF_JMP && BPF_OP(s.code) != BPF_JA) {
      in.jt = uint8_t(s.jt - i - 1);  // relative: every target above lies ahead of its jump
      in.jf = uint8_t(s.jf - i - 1);
    }
    out.push_back(in);
  }
  return out;
}

}  // namespace tcpkit
