#pragma once
// Writes tcpprobe's results: per-probe lines and per-target summaries, as text, JSON Lines
// or CSV. Safe to call from several target threads at once.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

#include "tcpkit/util/output.hpp"
#include "tcpkit/util/reject_counts.hpp"
#include "tcpkit/probe/probe_result.hpp"
#include "tcpkit/stray/ack_check.hpp"
#include "tcpkit/util/stats.hpp"

namespace tcpprobe {

struct TargetInfo {
  std::string target;       // as the user wrote it
  tcpkit::IpAddress address;
  uint16_t port = 80;
  std::string mode;         // "syn" or "connect"
  tcpkit::IpAddress source;
  std::string interface;
};

struct TargetStats {
  long long sent = 0, open = 0, closed = 0, filtered = 0, unreachable = 0;
  tcpkit::Samples rtt_ms;          // open and closed answers
  tcpkit::Samples kernel_rtt_ms;   // connect mode: TCP_INFO's RTT
  bool user_timestamps = false;    // any RTT measured with a user-space clock
  uint64_t capture_drops = 0;      // syn mode: frames our capture lost (answers among them look like loss)
  uint64_t bad_checksum = 0;       // syn mode: answers rejected for a wrong checksum (never classified)
  // syn mode, never counted as answers: replies that fail a check (by why, bad checksums
  // included), second answers to answered probes (copies of the first, or conflicting: another
  // outcome), answers after -W, RSTs naming no probe.
  tcpkit::RejectCounts rejected;
  uint64_t duplicates = 0, conflicting = 0, late = 0, unmatched_rst = 0;
  // Open answers that were ACKs for an earlier probe's connection, which the peer still held
  // (ProbeReply::held_by): our RSTs do not reach it, or (held_unanswered, of them) that probe's
  // SYN/ACK never reached us, so no RST was sent.
  uint64_t held = 0, held_unanswered = 0;
  // connect mode: probes answered only after the kernel sent the SYN again; their times hold its
  // retransmission timeout and stay out of rtt_ms.
  uint64_t retried = 0;
  // syn mode: open answers that were the peer's SYN/ACK sent again (ProbeReply::syn_ack_resent);
  // their times hold its timeout and stay out of rtt_ms.
  uint64_t syn_ack_resent = 0;
  // syn mode: open answers with a zero window (a SYN proxy's mark); connect mode: connections
  // reset as soon as they were made (ProbeReply::reset_after_handshake).
  uint64_t zero_window = 0, reset_at_once = 0;
  // syn mode: filtered probes whose SYN never left this host (ProbeReply::unsent).
  uint64_t unsent = 0;
  double elapsed_ms = 0;
  bool interrupted = false;        // stopped by a signal (Ctrl-C, SIGTERM, SIGHUP), not by -c or -w
  // What one ACK to the port drew, asked when no probe drew any answer (stray/ack_check.hpp).
  std::optional<tcpkit::AckCheckAnswer> ack_check;
  long long answered() const { return open + closed + unreachable; }
};

// "ack check: an ACK to port 80 drew an RST, so ..." folded to 80 columns; "" without a check.
std::string ack_check_text(uint16_t port, const std::optional<tcpkit::AckCheckAnswer>& check);

class Reporter {
 public:
  Reporter(tcpkit::Format format, bool quiet, bool wall_clock);
  void header(const TargetInfo& info);
  void probe(const TargetInfo& info, const tcpkit::ProbeReply& reply, std::chrono::microseconds timeout);
  void summary(const TargetInfo& info, const TargetStats& stats);

 private:
  tcpkit::Record probe_record(const TargetInfo& info, const tcpkit::ProbeReply& reply) const;
  std::string probe_text(const TargetInfo& info, const tcpkit::ProbeReply& reply, std::chrono::microseconds timeout) const;

  std::mutex mutex_;
  tcpkit::Format format_;
  bool quiet_, wall_clock_;
  tcpkit::JsonLinesWriter json_;
  tcpkit::CsvWriter csv_;
};

}  // namespace tcpprobe
