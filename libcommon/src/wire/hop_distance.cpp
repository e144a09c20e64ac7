#include "tcpkit/wire/hop_distance.hpp"

#include <initializer_list>

namespace tcpkit {

int answer_hop(uint8_t arrival_ttl) {
  if (arrival_ttl == 0) return 0;
  for (const int initial : {32, 64, 128, 255})
    if (arrival_ttl <= initial) return initial - arrival_ttl + 1;
  return 0;  // unreachable: a uint8_t is at most 255
}

}  // namespace tcpkit
