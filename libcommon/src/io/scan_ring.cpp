#include "tcpkit/io/scan_ring.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace tcpkit {

RingOptions ring_for_rate(double packets_per_second) {
  RingOptions o;
  const double bytes = std::max(0.0, packets_per_second) * 0.020 * 160;
  const double blocks = std::ceil(bytes / o.block_size);
  o.block_count = uint32_t(std::clamp(blocks, 64.0, 256.0));
  return o;
}

namespace {
// Linux 6.18 retires TPACKET_V3 blocks on an hrtimer; before, on a jiffy timer. Read once.
bool block_timer_is_hrtimer() {
  static const bool hrtimer = [] {
    utsname u{};
    long major = 0, minor = 0;
    if (::uname(&u) == 0) {  // "6.18.44-...": major, then minor after the dot
      char* end = nullptr;
      major = std::strtol(u.release, &end, 10);
      if (end && *end == '.') minor = std::strtol(end + 1, nullptr, 10);
    }
    return major > 6 || (major == 6 && minor >= 18);
  }();
  return hrtimer;
}
constexpr int64_t kLongestJiffyNs = 10'000'000;  // HZ 100
}  // namespace

Result<PacketRing> PacketRing::open(const RingOptions& options) {
  PacketRing ring;
  // Protocol 0: nothing is queued until bind(), so the filter is in place first.
  ring.fd_ = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (ring.fd_ < 0) return fail_errno("packet socket", errno);

  if (options.filter.empty()) return fail(ErrorCode::system, "packet ring without a receive filter");
  static_assert(sizeof(BpfInstruction) == sizeof(sock_filter));
  auto program = options.filter;  // the kernel takes a non-const pointer
  sock_fprog fprog{static_cast<unsigned short>(program.size()), reinterpret_cast<sock_filter*>(program.data())};
  if (setsockopt(ring.fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0)
    return fail_errno("attach receive filter", errno);

  const int version = TPACKET_V3;
  if (setsockopt(ring.fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0)
    return fail_errno("PACKET_VERSION TPACKET_V3", errno);
#ifdef PACKET_IGNORE_OUTGOING
  const int ignore = 1;
  setsockopt(ring.fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &ignore, sizeof ignore);  // best effort: we also check
#endif
  tpacket_req3 req{};
  req.tp_block_size = options.block_size;
  req.tp_block_nr = options.block_count;
  req.tp_frame_size = 2048;  // only a unit of accounting for V3; frames are packed in blocks
  req.tp_frame_nr = options.block_size / req.tp_frame_size * options.block_count;
  req.tp_retire_blk_tov = options.block_timeout_ms;
  if (setsockopt(ring.fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0)
    return fail_errno("PACKET_RX_RING", errno);
  ring.block_size_ = options.block_size;
  ring.block_timeout_ms_ = options.block_timeout_ms;
  ring.block_count_ = options.block_count;
  ring.map_size_ = size_t(options.block_size) * options.block_count;
  void* map = ::mmap(nullptr, ring.map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, ring.fd_, 0);
  if (map == MAP_FAILED) return fail_errno("mmap packet ring", errno);
  ring.map_ = static_cast<uint8_t*>(map);
  auto wake = WakeEvent::open("packet ring");
  if (!wake) return tl::unexpected(wake.error());
  ring.wake_.emplace(std::move(*wake));

  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = options.interface_index;
  if (::bind(ring.fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0)
    return fail_errno("bind packet socket", errno);
  return ring;
}

PacketRing::PacketRing(PacketRing&& other) noexcept { *this = std::move(other); }

PacketRing& PacketRing::operator=(PacketRing&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    wake_ = std::move(other.wake_);
    map_ = other.map_;
    map_size_ = other.map_size_;
    block_size_ = other.block_size_;
    block_timeout_ms_ = other.block_timeout_ms_;
    block_count_ = other.block_count_;
    current_ = other.current_;
    totals_ = other.totals_;
    other.fd_ = -1;
    other.wake_.reset();
    other.map_ = nullptr;
  }
  return *this;
}

PacketRing::~PacketRing() { release(); }

void PacketRing::release() {
  if (map_) ::munmap(map_, map_size_);
  if (fd_ >= 0) ::close(fd_);
  wake_.reset();
  map_ = nullptr;
  fd_ = -1;
}

Result<void> wait_readable(int fd, int timeout_ms, const WakeEvent* wake) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {wake ? wake->fd() : -1, POLLIN, 0}};
  const int r = ::poll(fds, wake ? 2 : 1, timeout_ms);
  if (r < 0) {
    if (errno == EINTR) return {};
    return fail_errno("poll packet ring", errno);
  }
  if (wake && (fds[1].revents & POLLIN)) wake->clear();
  const pollfd& p = fds[0];
  // poll() succeeds on a closed fd or a socket in error: without these checks it would return
  // at once, every time, and its caller would spin.
  if (p.revents & POLLNVAL) return fail_errno("poll packet ring", EBADF);
  if (p.revents & POLLERR) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) return fail_errno("packet ring SO_ERROR", errno);
    if (error != 0) return fail_errno("packet ring", error);
  }
  return {};
}

Result<void> poll_until(const RingPoll& poll_once, const std::function<bool()>& stop, int timeout_ms,
                        int max_errors) {
  int errors_in_a_row = 0;
  while (!stop()) {
    auto r = poll_once(timeout_ms);
    if (r) {
      errors_in_a_row = 0;
      continue;
    }
    // Only a shortage may pass: anything else (EBADF, ENETDOWN read from SO_ERROR, which the
    // read also clears) will not come back, and the socket may already be unhooked for good.
    const int e = r.error().err_no;
    const bool transient = e == ENOMEM || e == ENOBUFS || e == EAGAIN;
    if (!transient || ++errors_in_a_row >= max_errors) return tl::unexpected(r.error());
    ::usleep(10'000);
  }
  return {};
}

size_t walk_ring_block(const uint8_t* block, size_t block_size, const PacketRing::Handler& handler,
                       uint64_t* bad_checksum, uint64_t* unverifiable) {
  if (block_size < sizeof(tpacket_block_desc)) return 0;
  const auto* b = reinterpret_cast<const tpacket_block_desc*>(block);
  size_t handed = 0;
  const uint32_t count = b->hdr.bh1.num_pkts;
  size_t offset = b->hdr.bh1.offset_to_first_pkt;
  // A packet's frame header and the address after it, which must lie inside the block. The
  // kernel puts packets at multiples of 8 (af_packet.c's V3_ALIGNMENT, not TPACKET_ALIGNMENT's
  // 16), so any other offset means a corrupt block.
  constexpr size_t kFrameHeader = TPACKET_ALIGN(sizeof(tpacket3_hdr)) + sizeof(sockaddr_ll);
  constexpr size_t kV3Alignment = 8;
  for (uint32_t i = 0; i < count && offset % kV3Alignment == 0 && offset <= block_size &&
                       kFrameHeader <= block_size - offset;
       ++i) {
    const auto* h = reinterpret_cast<const tpacket3_hdr*>(block + offset);
    const auto* ll = reinterpret_cast<const sockaddr_ll*>(reinterpret_cast<const uint8_t*>(h) +
                                                          TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    // tp_net is the IP header for SOCK_DGRAM; trust nothing that points outside the block.
    const size_t start = offset + h->tp_net;
    const size_t skipped = h->tp_net >= h->tp_mac ? h->tp_net - h->tp_mac : 0;
    const size_t length = h->tp_snaplen > skipped ? h->tp_snaplen - skipped : 0;
    if (ll->sll_pkttype != PACKET_OUTGOING && start <= block_size && length <= block_size - start) {
      const size_t wire_length = h->tp_len > skipped ? h->tp_len - skipped : 0;
      const Admission admitted = admit_packet(h->tp_status, block + start, length, wire_length);
      if (admitted == Admission::bad_checksum) {
        if (bad_checksum) ++*bad_checksum;
      } else if (admitted == Admission::unverifiable) {
        if (unverifiable) ++*unverifiable;
      } else {
        handler(block + start, length, int64_t(h->tp_sec) * 1'000'000'000 + h->tp_nsec);
        ++handed;
      }
    }
    if (h->tp_next_offset == 0) break;
    offset += h->tp_next_offset;
  }
  return handed;
}

Result<size_t> PacketRing::poll(int timeout_ms, const Handler& handler) {
  auto* block = reinterpret_cast<tpacket_block_desc*>(map_ + size_t(current_) * block_size_);
  if (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
    if (auto ok = wait_readable(fd_, timeout_ms, wake_ ? &*wake_ : nullptr); !ok) return tl::unexpected(ok.error());
  }
  size_t handed = 0;
  // Every ready block, at most one lap of the ring per call.
  for (uint32_t n = 0; n < block_count_; ++n) {
    block = reinterpret_cast<tpacket_block_desc*>(map_ + size_t(current_) * block_size_);
    if (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
    handed += walk_ring_block(reinterpret_cast<const uint8_t*>(block), block_size_, handler, &totals_.bad_checksum, &totals_.unverifiable);
    __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    __atomic_store_n(&current_, (current_ + 1) % block_count_, __ATOMIC_RELAXED);
  }
  return handed;
}

bool PacketRing::reader_behind() const {
  if (!map_ || block_count_ < 2) return false;
  const uint32_t ahead = (__atomic_load_n(&current_, __ATOMIC_RELAXED) + block_count_ / 2) % block_count_;
  const auto* block = reinterpret_cast<const tpacket_block_desc*>(map_ + size_t(ahead) * block_size_);
  return __atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER;
}

int64_t PacketRing::handover_ns() const {
  const int64_t timeout = int64_t(block_timeout_ms_) * 1'000'000;
  return block_timer_is_hrtimer() ? timeout : std::max(timeout, kLongestJiffyNs);
}

void PacketRing::wake() {
  if (wake_) wake_->signal();
}

RingStats PacketRing::stats() {
  tpacket_stats_v3 s{};
  socklen_t length = sizeof s;
  if (fd_ >= 0 && getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &s, &length) == 0) {
    totals_.packets += s.tp_packets;
    totals_.drops += s.tp_drops;
  }
  return totals_;
}

}  // namespace tcpkit
