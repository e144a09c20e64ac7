// The netlink sock_diag decoder on arbitrary bytes (a recv() buffer or a recorded dump).
// Beyond "no crash": its counts match what reached the sink, decoding stops when the sink
// says so, and every record turns into JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "tcpkit/sockets/sock_diag.hpp"
#include "tcpkit/util/output.hpp"

using namespace tcpkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);  // exact size, for ASan
  size_t n = 0;
  const SocketSink sink = [&n](SocketRecord& s) {
    FUZZ_CHECK(s.local.family() == s.remote.family());
    (void)to_record(s).dump(-1, ' ', false, Record::error_handler_t::replace);
    ++n;
    return true;
  };
  const auto namer = [](uint32_t index) { return "if" + std::to_string(index); };
  const SockDiagDecode d = decode_sock_diag(bytes, sink, namer);
  FUZZ_CHECK(d.sockets == n && !d.stopped);
  FUZZ_CHECK(d.sockets * 72 <= size);  // an inet_diag_msg record is 16 + 72 bytes at least
  if (n > 1) {
    size_t seen = 0;
    const auto stop = decode_sock_diag(bytes, [&seen](SocketRecord&) { return ++seen < 1; });
    FUZZ_CHECK(stop.stopped && stop.sockets == 1 && seen == 1);
  }
  return 0;
}
