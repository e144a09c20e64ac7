#pragma once
// Raw half-open probes: SYN out, SYN/ACK, RST or ICMP error back, timed from kernel
// timestamps of both packets (the driver's send stamp of the SYN, or its capture stamp where
// send stamps are missing; the capture stamp of the answer). Each probe gets its own reserved source port and a
// random ISN, so a late answer is never paired with the wrong probe.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/probe/probe_result.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

struct SynProbeConfig {
  IpAddress destination;
  uint16_t port = 80;
  Route route;                           // source address and interface
  bool bind_interface = false;           // -I given: send through that interface only
  std::optional<uint16_t> source_port;   // fixed source port (-s); else one reserved per probe
  uint8_t ttl = 64;
  TcpOptions syn_options = linux_layout();
  uint16_t window = 64240;
  bool send_reset = true;                // answer a SYN/ACK with RST, leaving nothing half-open
};

// A probe still waiting for its answer, as the matcher sees it.
struct PendingSyn {
  uint16_t sport = 0;
  uint32_t isn = 0;
};

// Which pending probe an inbound TCP segment answers (index into pending), or nullopt. All of
// the probes share source, destination and destination port; the segment must come from
// (destination, port) to (source, a probe's sport). A segment with ACK must acknowledge that
// probe's ISN+1. An RST without ACK (RFC 9293 never sends one to a SYN) is taken when its ack
// field still carries ISN+1, or else only when one pending probe has its 4-tuple: with a fixed
// source port (-s) every probe has the same one, and a bare RST names none of them.
std::optional<size_t> match_syn_answer(const DecodedPacket& segment, const IpAddress& source,
                                       const IpAddress& destination, uint16_t port,
                                       const std::vector<PendingSyn>& pending);

class SynProber {
 public:
  static Result<SynProber> open(const SynProbeConfig& config);

  // Sends one SYN; its answer must come before deadline, or it is reported filtered.
  Result<void> send(uint64_t probe_id, std::chrono::steady_clock::time_point deadline);

  // Reads answers until `until`, cancel_fd or the first completed probe (answered, or past
  // its deadline). Returns the probes completed, oldest first.
  Result<std::vector<ProbeReply>> collect(std::chrono::steady_clock::time_point until, int cancel_fd = -1);

  size_t outstanding() const { return pending_.size(); }
  // Segments that matched our 4-tuple but no pending probe (late, duplicate or forged).
  uint64_t unmatched() const { return unmatched_; }
  // Frames the kernel dropped from our capture since open (its queue was full): answers may
  // have been among them, so a probe reported filtered may have been answered.
  uint64_t capture_drops();
  // Answers rejected because their checksum was wrong (corrupted or forged): never classified.
  uint64_t bad_checksums() const { return capture_.bad_checksums(); }

  SynProber(SynProber&&) noexcept;
  SynProber& operator=(SynProber&&) noexcept;
  ~SynProber();

 private:
  struct Pending;
  SynProber(SynProbeConfig config, RawSender sender, Capture capture);
  void take_send_stamps();
  void handle(const CapturedPacket& packet, std::vector<ProbeReply>& done);
  void expire(std::chrono::steady_clock::time_point now, std::vector<ProbeReply>& done);

  SynProbeConfig config_;
  RawSender sender_;
  Capture capture_;
  std::map<uint32_t, std::unique_ptr<Pending>> pending_;  // by ISN: unique among pending probes
  uint64_t unmatched_ = 0;
  uint64_t capture_drops_ = 0;
  uint64_t rng_state_ = 0;
};

}  // namespace tcpkit
