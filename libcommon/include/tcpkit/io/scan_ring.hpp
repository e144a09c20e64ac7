#pragma once
// The scanner's receive path: an AF_PACKET socket with a TPACKET_V3 ring (the kernel fills
// blocks of packets in shared memory, one poll per block instead of one recvmsg per packet),
// a BPF filter so only possible replies are queued, and the kernel's drop counters.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/io/wake_event.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

struct RingOptions {
  std::vector<BpfInstruction> filter;  // classic BPF over IP packets (see scan_filter.hpp)
  int interface_index = 0;   // 0: every interface
  // Whole replies, so their checksums can be verified: an ICMPv6 error is at most 1280 bytes (an
  // ICMPv4 one 576), RFC 4884 extensions included (found at 160: such errors and RSTs with text
  // were cut, so unverifiable). Frames are packed in the blocks: small replies take no more.
  uint32_t snaplen = 1280;
  // Small blocks: a block is handed over after block_timeout_ms however full, so at a reply
  // rate that fills less than a block per timeout the rest of the block is lost space; 8 KiB
  // is about 64 replies, a millisecond of 64000 replies/s.
  uint32_t block_size = 1 << 13;
  uint32_t block_count = 64;  // 512 KiB in all
  uint32_t block_timeout_ms = 1;  // the kernel hands over a partly filled block after this
};

// Every byte of the ring is resident (the kernel maps all of it at mmap), so it is sized to the
// reply rate: about 20 ms of replies at ~160 bytes each (a frame header and a short IP packet),
// 64 to 256 blocks of 8 KiB. 20 ms covers the receiver losing its CPU for a while on a busy
// two-core machine (10 ms dropped replies there). At low rates the block count bounds how long
// the reader may stall, because a block is handed over, partly filled, every block_timeout_ms.
RingOptions ring_for_rate(double packets_per_second);

struct RingStats {
  uint64_t packets = 0;  // queued into the ring by the kernel
  uint64_t drops = 0;    // lost because the ring was full
  uint64_t bad_checksum = 0;  // rejected: their TCP/ICMP checksum was wrong (never handed over)
  uint64_t unverifiable = 0;  // rejected: a checksum that could not be checked (admit_packet)
};

// Waits up to timeout_ms for fd to become readable. A failed poll, a closed fd (POLLNVAL) or an
// error pending on the socket (POLLERR: SO_ERROR, e.g. ENETDOWN when the interface goes away)
// is an Error; EINTR and a timeout are not (they return normally). A signalled `wake` ends the
// wait too, and is cleared.
Result<void> wait_readable(int fd, int timeout_ms, const WakeEvent* wake = nullptr);

// Calls poll_once(timeout_ms) until stop() says so. A shortage (ENOMEM, ENOBUFS, EAGAIN) is
// retried after a short pause, at most max_errors times in a row; any other error ends the loop
// at once and is returned, so a broken ring is reported instead of being dropped and spun on.
using RingPoll = std::function<Result<size_t>(int timeout_ms)>;
Result<void> poll_until(const RingPoll& poll_once, const std::function<bool()>& stop, int timeout_ms = 10,
                        int max_errors = 5);

class PacketRing {
 public:
  // Needs CAP_NET_RAW. Outgoing packets are not queued.
  static Result<PacketRing> open(const RingOptions& options);

  PacketRing(PacketRing&& other) noexcept;
  PacketRing& operator=(PacketRing&& other) noexcept;
  PacketRing(const PacketRing&) = delete;
  PacketRing& operator=(const PacketRing&) = delete;
  ~PacketRing();

  using Handler = std::function<void(const uint8_t* ip_packet, size_t length, int64_t kernel_time_ns)>;
  // Waits up to timeout_ms for a filled block, then hands every packet of every ready block to
  // the handler. Returns the number of packets handed over.
  Result<size_t> poll(int timeout_ms, const Handler& handler);
  // Any thread: a poll waiting now (or the next one) returns at once, with what is ready.
  void wake();
  // The longest a received packet waits in a partly filled block before the kernel hands the
  // block over: the ring's block timeout where the block timer is a high-resolution timer (Linux
  // 6.18 and later, measured here), else rounded up to jiffies, up to 10 ms (HZ 100).
  int64_t handover_ns() const;
  // Any thread: the reader is half a ring or more behind (the block half a ring past the one it
  // reads next is filled and waiting): replies are arriving faster than they are read, and the
  // ring will soon drop them. A sender pauses on it (a scan on two cores starved its receiver).
  bool reader_behind() const;
  // Totals since open (PACKET_STATISTICS resets on read; this class adds them up).
  RingStats stats();

 private:
  PacketRing() = default;
  void release();
  int fd_ = -1;
  std::optional<WakeEvent> wake_;  // wake()
  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  uint32_t block_size_ = 0, block_count_ = 0, block_timeout_ms_ = 0;
  uint32_t current_ = 0;  // the block read next: written by the reader, read atomically by reader_behind()
  RingStats totals_;
};

// Hands every packet of one TPACKET_V3 block (as the kernel filled it, block_size bytes) to the
// handler, except our own outgoing ones and those admit_packet rejects (skipped and counted in
// *bad_checksum or *unverifiable). Offsets and lengths in the block are not trusted:
// nothing outside the block is read, whatever its headers say. Returns the packets handed over.
// (Separate from poll() so that it can be tested and fuzzed on bytes.)
size_t walk_ring_block(const uint8_t* block, size_t block_size, const PacketRing::Handler& handler,
                       uint64_t* bad_checksum = nullptr, uint64_t* unverifiable = nullptr);

}  // namespace tcpkit
