#pragma once
// Receiving packets with kernel timestamps through an AF_PACKET socket: both our own
// outgoing packets and the replies are stamped by the kernel on one clock (CLOCK_REALTIME),
// at the same points tcpdump sees them. A BPF filter (pcap syntax) narrows what is queued.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

enum class TimestampSource { kernel, user };
const char* to_string(TimestampSource source);

struct CapturedPacket {
  std::vector<uint8_t> data;  // starts at the IP header
  int64_t time_ns = 0;        // kernel CLOCK_REALTIME timestamp (or user-space if none came)
  TimestampSource source = TimestampSource::kernel;
  bool outgoing = false;      // sent by this host
  int interface_index = 0;
  uint32_t original_length = 0;  // before snaplen truncation
};

struct CaptureOptions {
  std::string interface;       // empty: every interface
  std::string filter;          // pcap filter syntax applied to IP packets; empty: everything
  uint32_t snaplen = 256;      // bytes kept per packet
  int receive_buffer = 4 << 20;
  bool include_outgoing = true;
};

struct CaptureStats {
  uint64_t received = 0;
  uint64_t dropped = 0;  // by the kernel: the socket's queue was full
};

// The kernel queues packets whole (up to this) so their checksums can be verified; each
// CapturedPacket keeps only its snaplen.
inline constexpr uint32_t kWholePacket = 65536;

class Capture {
 public:
  // Needs CAP_NET_RAW. The filter is attached before the socket starts receiving, so no
  // packet outside it is ever queued. A filter pcap cannot compile is bad input.
  static Result<Capture> open(const CaptureOptions& options);

  Capture(Capture&& other) noexcept = default;
  Capture& operator=(Capture&& other) noexcept = default;

  // Waits until a packet arrives, the deadline passes or cancel_fd becomes readable.
  // nullopt means: deadline reached or cancelled (an outcome, not an error).
  Result<std::optional<CapturedPacket>> next(std::chrono::steady_clock::time_point deadline, int cancel_fd = -1);
  // A packet already queued, without waiting.
  Result<std::optional<CapturedPacket>> poll_now();

  // From now on, packets this host sends are not queued at all (PACKET_IGNORE_OUTGOING), or
  // where the kernel cannot, dropped as they are read. Cheap to call again.
  void ignore_outgoing();

  // Counters since the last call (PACKET_STATISTICS resets them).
  CaptureStats stats();
  // Received packets whose TCP/ICMP checksum was wrong (and the kernel had not vouched for it):
  // dropped here, never returned by next() or poll_now().
  uint64_t bad_checksums() const { return bad_checksums_; }
  // ... and those whose checksum could not be checked (see admit_packet): dropped as well.
  uint64_t unverifiable() const { return unverifiable_; }
  int fd() const { return fd_.get(); }
  // Whether packets this host sends are still queued (ignore_outgoing() not called).
  bool sees_outgoing() const { return include_outgoing_; }

 private:
  explicit Capture(int fd, uint32_t snaplen, bool include_outgoing)
      : fd_(fd), snaplen_(snaplen), include_outgoing_(include_outgoing), whole_(kWholePacket) {}
  UniqueFd fd_;
  uint32_t snaplen_ = 256;
  bool include_outgoing_ = true;
  uint64_t bad_checksums_ = 0;
  uint64_t unverifiable_ = 0;
  std::vector<uint8_t> whole_;  // each packet is read whole to verify its checksum, then cut
};

// Whether a received packet may be handed on to be classified. tp_status comes from
// PACKET_AUXDATA or the ring's frame header; captured is the bytes at hand, wire_length the
// packet's length as it arrived. Rejected: a wrong checksum, unless the device or kernel vouched
// for it (CSUM_VALID) or had not filled it in yet (CSUMNOTREADY); and a packet whose checksum
// cannot be checked: shorter on the wire than its IP header claims (the kernel drops it), a
// fragment, or cut by a capture too short to hold it. None of those is an answer.
enum class Admission { pass, bad_checksum, unverifiable };
Admission admit_packet(uint32_t tp_status, const uint8_t* ip_packet, size_t captured, size_t wire_length);

// Compiles a pcap filter for raw IP packets into classic BPF (the form SO_ATTACH_FILTER takes).
// Exposed for tests and for tools with their own receive rings. libpcap is loaded on the first
// call (it is not linked); without it installed, a system error that says so.
struct BpfInstruction {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};
Result<std::vector<BpfInstruction>> compile_filter(const std::string& filter, uint32_t snaplen);

}  // namespace tcpkit
