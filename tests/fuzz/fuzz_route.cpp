// The route netlink reply decoder (RTM_GETROUTE's answer) on arbitrary bytes; the first byte
// picks the destination's family. Beyond "no crash": addresses come out in that family only.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "tcpkit/io/route.hpp"

using namespace tcpkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Family family = data[0] & 1 ? Family::v6 : Family::v4;
  const std::vector<uint8_t> bytes(data + 1, data + size);  // exact size, for ASan
  const RouteReply r = decode_route_reply(bytes, family);
  if (r.source) FUZZ_CHECK(r.source->family() == family);
  if (r.gateway) FUZZ_CHECK(r.gateway->family() == family);
  FUZZ_CHECK(r.error >= 0);
  return 0;
}
