#include "tcpkit/stray/stray_run.hpp"

#include <algorithm>

#include <sys/random.h>
#include <sys/socket.h>

#include "tcpkit/io/nft_guard.hpp"

namespace tcpkit {

namespace {
// The window Linux offers on a fresh connection (44 segments of 1460 bytes): a stray segment
// looks like any other of a Linux host. An RST carries none.
constexpr uint16_t kLinuxWindow = 64240;
// Knuth's multiplicative hash constant (2^32 / golden ratio): spreads the clock's low bits when
// getrandom fails.
constexpr uint32_t kGoldenRatio32 = 2654435761u;
}  // namespace

Result<MarkedSender> open_marked_sender(const StrayTarget& target) {
  auto sender = RawSender::open(target.address.family(), target.bind_interface ? target.route.interface : "");
  if (!sender) return tl::unexpected(sender.error());
  const uint32_t mark = kStrayPacketMark;
  // SO_MARK needs CAP_NET_ADMIN; without it there is no guard either, so nothing to pass.
  const bool marked = ::setsockopt(sender->fd(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0;
  return MarkedSender{std::move(*sender), marked};
}

Result<SegmentSpec> send_stray_segment(RawSender& sender, const IpAddress& source, uint16_t sport,
                                       const IpAddress& destination, uint16_t dport, uint8_t flags, uint32_t seq,
                                       uint32_t ack, std::vector<uint8_t> payload, TcpOptions options,
                                       std::optional<uint16_t> window) {
  SegmentSpec spec;
  spec.src = source;
  spec.dst = destination;
  spec.sport = sport;
  spec.dport = dport;
  spec.seq = seq;
  spec.ack = (flags & tcp_flag::ack) ? ack : 0;
  spec.flags = flags;
  spec.window = (flags & tcp_flag::rst) ? 0 : window.value_or(kLinuxWindow);
  spec.ip_id = uint16_t(stray_random32());
  spec.payload = std::move(payload);
  spec.options = options;
  auto bytes = craft_segment(spec);
  if (!bytes) return tl::unexpected(bytes.error());
  auto sent = sender.send(*bytes, destination);
  if (!sent) return tl::unexpected(sent.error());
  return spec;
}

bool stray_saw_loss(const StrayRun& run) {
  return run.path_loss || (run.seen.retried && !run.seen.retry_answers.empty());
}

bool stray_peer_took_connection(const StrayRun& run) {
  return run.primed || std::any_of(run.segments.begin(), run.segments.end(),
                                   // Data, a FIN or a keepalive: a reset of its own shows no connection taken.
                                   [](const StraySegment& s) { return !s.outbound && s.peer_own && !(s.flags & tcp_flag::rst); });
}

uint32_t stray_random32() {
  uint32_t value = 0;
  if (getrandom(&value, sizeof value, 0) != sizeof value) value = uint32_t(realtime_ns() * kGoldenRatio32);
  return value;
}

}  // namespace tcpkit
