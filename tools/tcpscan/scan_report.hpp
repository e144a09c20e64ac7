#pragma once
// Writes scan results in the chosen form: streaming text, JSON Lines, CSV, or one grepable
// line per host at the end. Also the summary and the --dry-run probe lines.
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/util/output.hpp"
#include "tcpkit/scan/scan_engine.hpp"
#include "tcpscan/options.hpp"

namespace tcpscan {

// Facts about the run that the summary reports besides the engine's counters.
struct RunFacts {
  uint64_t hosts = 0, ports = 0;
  uint64_t seed = 0;
  tcpkit::Shard shard;
  // Round 1's source port and the last round's (the same with -g): round r uses first + r - 1.
  uint16_t source_port = 0, last_source_port = 0;
  uint8_t flags = 0;
};

class Report {
 public:
  Report(const Options& options, tcpkit::ProbeStyle style);

  void result(const tcpkit::ScanResult& r);
  void flush();
  void summary(const tcpkit::ScanSummary& s, const RunFacts& facts);

  // --dry-run: one line (or object) per probe, then a short summary.
  void probe(uint64_t n, const tcpkit::IpAddress& source, const tcpkit::IpAddress& target, uint16_t port,
             const tcpkit::ProbeBytes& bytes);
  void dry_run_summary(uint64_t probes, const RunFacts& facts);

 private:
  std::string reason_text(const tcpkit::ScanResult& r) const;
  bool shown(const tcpkit::ScanResult& r) const;

  const Options& options_;
  tcpkit::ProbeStyle style_;
  std::optional<tcpkit::CsvWriter> csv_;
  // Grepable form: per host, per state, the ports (the line is written at the end).
  std::map<tcpkit::IpAddress, std::map<int, std::vector<uint16_t>>> hosts_;
};

}  // namespace tcpscan
