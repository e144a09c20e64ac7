#pragma once
// Raw half-open probes: SYN out, SYN/ACK, RST or ICMP error back, timed from kernel
// timestamps of both packets (the driver's send stamp of the SYN, or its capture stamp where
// send stamps are missing; the capture stamp of the answer). Each probe gets its own reserved source port and a
// random ISN, so a late answer is never paired with the wrong probe.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/util/reject_counts.hpp"
#include "tcpkit/probe/probe_result.hpp"
#include "tcpkit/probe/resent_syn_ack.hpp"
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
// source port (-s) every probe has the same one, and a bare RST names none of them. A bare SYN
// (a split handshake: the peer opens towards us) carries nothing of ours either and is taken
// the same way; it reads open.
//
// SynProber applies the same rule to the probes it already reported (a while, bounded): a
// match there is a duplicate or a conflicting answer (the probe was answered: the same outcome
// or another) or a late answer (it was reported filtered), never counted. What reaches one of our source ports from the target's
// port and matches nothing is rejected: from another address (wrong address), with ACK (wrong
// ack). An ICMP error that quotes our address and port or the target's, but no probe of ours
// exactly (source port, destination and seq), is rejected too (wrong quote).
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
  // What came back that is no answer, never classified (see the matching rules above):
  // replies to our ports that fail a check, by why (bad checksums included) ...
  RejectCounts rejected() const;
  // ... a second answer to an answered probe (also returned by collect(), marked duplicate),
  // a copy of the first, or one with another outcome (conflicts_with) ...
  uint64_t duplicates() const { return duplicates_; }
  uint64_t conflicting() const { return conflicting_; }  // probes answered so, each once
  // ... an answer to a probe already reported filtered (it came after -W) ...
  uint64_t late() const { return late_; }
  // ... and RSTs without ACK that name no single probe (with a fixed source port every
  // pending probe shares the 4-tuple the RST has).
  uint64_t unmatched_rsts() const { return unmatched_rsts_; }
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
  // A probe already reported: what a later copy of its answer is compared with.
  struct Finished {
    uint64_t probe_id = 0;
    uint16_t sport = 0;
    int64_t sent_ns = 0;
    ProbeOutcome outcome = ProbeOutcome::filtered;  // what it was reported with (filtered: unanswered)
    std::optional<ProbeOutcome> other;              // a later answer's that disagreed (its copies repeat it)
    bool kernel_sent = false;
    int64_t finished_ns = 0;  // CLOCK_REALTIME when it was reported
  };
  SynProber(SynProbeConfig config, RawSender sender, Capture capture);
  void take_send_stamps();
  void handle(const CapturedPacket& packet, std::vector<ProbeReply>& done);
  void handle_tcp(const DecodedPacket& d, const CapturedPacket& packet, std::vector<ProbeReply>& done);
  bool held_connection_answer(const DecodedPacket& d, const CapturedPacket& packet, ProbeReply& reply,
                              std::vector<ProbeReply>& done);
  void send_reset(uint16_t our_port, uint32_t seq);
  void handle_icmp(const DecodedPacket& d, const CapturedPacket& packet, std::vector<ProbeReply>& done);
  void finish(uint32_t isn, const CapturedPacket& packet, ProbeReply reply, std::vector<ProbeReply>& done);
  void again(uint32_t isn, const CapturedPacket& packet, ProbeReply reply, std::vector<ProbeReply>& done);
  void remember(uint32_t isn, const Pending& p, ProbeOutcome outcome);
  void left_at(Pending& p, int64_t departed_ns);
  bool departures_visible() const;  // our SYNs' leaving is seen (the tap, or the driver's stamps)
  bool next_hop_unresolved() const;  // the next hop's neighbour entry: asked, never answered
  bool our_port(uint16_t port) const;
  void use_port(uint16_t port, int delta);
  std::optional<uint32_t> reported_match(const DecodedTcp& t) const;
  void expire(std::chrono::steady_clock::time_point now, std::vector<ProbeReply>& done);

  SynProbeConfig config_;
  RawSender sender_;
  Capture capture_;
  std::map<uint32_t, std::unique_ptr<Pending>> pending_;  // by ISN: unique among pending probes
  std::map<uint32_t, Finished> finished_;                 // by ISN, bounded (kept a while)
  std::deque<uint32_t> finished_order_;                   // oldest first, for the bound
  std::unordered_map<uint16_t, uint32_t> port_uses_;      // source ports of pending and reported probes
  RejectCounts rejects_;                                  // bad checksums are the capture's
  uint64_t duplicates_ = 0, conflicting_ = 0, late_ = 0, unmatched_rsts_ = 0;
  ResentSynAckJudge resent_;
  uint64_t capture_drops_ = 0;
  bool tx_stamps_seen_ = false;  // the driver stamps our sends (the capture then ignores them)
  uint64_t rng_state_ = 0;
};

}  // namespace tcpkit
