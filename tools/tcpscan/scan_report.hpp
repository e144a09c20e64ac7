#pragma once
// Writes scan results in the chosen form: text grouped per host (or streamed with --stream),
// JSON Lines, CSV, one grepable line per host at the end, nmap XML; also the summary and the
// --dry-run probe lines. Hosts that never answered are reported down, not as filtered ports.
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/progress_line.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/scan/scan_dry_run.hpp"
#include "tcpkit/scan/scan_engine.hpp"
#include "tcpkit/wire/service_names.hpp"
#include "tcpscan/host_table.hpp"
#include "tcpscan/host_text.hpp"
#include "tcpscan/options.hpp"
#include "tcpscan/xml_report.hpp"

namespace tcpscan {

// The ACK check of a SYN scan's silent ports (scan_ack_check.hpp): what it found, or why it
// did not run ("" and ran false: there was nothing to check, or it was not asked for).
struct AckCheckFacts {
  bool ran = false;
  uint64_t silent = 0, checked = 0, reset = 0, icmp = 0, sent = 0;
  uint64_t icmp_unreachable = 0;  // of icmp: errors that say the host cannot be reached
  std::string skipped;
};

// Facts about the run that the summary reports besides the engine's counters.
struct RunFacts {
  uint64_t hosts = 0, ports = 0;
  uint64_t seed = 0;
  tcpkit::Shard shard;
  // Round 1's source port and the last round's (the same with -g): round r uses first + r - 1.
  uint16_t source_port = 0, last_source_port = 0;
  uint8_t flags = 0;
  std::string services;  // the port list, compressed ("22-26"), for the XML
  AckCheckFacts ack;
};

class Report {
 public:
  Report(const Options& options, tcpkit::ProbeStyle style, uint64_t ports_per_host);
  ~Report();
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;

  // The XML goes to -oX FILE or stdout; false (and a message in error) when FILE cannot be written.
  bool open_xml(const RunFacts& facts, std::string& error);
  // After the summary: why the -oX file could not be written in full ("" when it was).
  std::string xml_error();
  // While set, the progress line is cleared before results are written and redrawn after.
  void set_progress(tcpkit::cli::ProgressLine* progress) { progress_ = progress; }
  // See HostTable::probe_stale_neighbours.
  void probe_stale_neighbours(std::function<bool(const tcpkit::IpAddress&)> is_target, int cancel_fd,
                              int interface_index) {
    hosts_.probe_stale_neighbours(std::move(is_target), cancel_fd, interface_index);
  }

  void result(const tcpkit::ScanResult& r);
  // A second answer that says otherwise than the port's first: reported in the summary.
  void conflict(const tcpkit::ScanResult& r);
  // Whether a host not yet complete has answered something (a TCP reply, or an ICMP error
  // other than host/net unreachable); false for a host without results or already reported.
  bool host_answered(const tcpkit::IpAddress& address);
  // Its ports open or closed so far (SYN/ACKs and RSTs), for a host not yet complete; else 0.
  uint64_t syn_answers(const tcpkit::IpAddress& address);
  void flush();
  void summary(const tcpkit::ScanSummary& s, const RunFacts& facts);
  // Open ports reported (on hosts that are up): the exit code's positive result.
  uint64_t positive() const { return reported_[size_t(tcpkit::positive_state(style_))]; }

  // --dry-run: one line (or object) per probe, then a short summary.
  void probe(const tcpkit::DryProbe& probe);
  void dry_run_summary(uint64_t probes, const RunFacts& facts);

 private:
  std::string reason_text(const tcpkit::ScanResult& r) const;
  bool shown(tcpkit::PortState state) const;
  bool shown(const Host& h) const;  // --open: only hosts with a positive port, in every form
  bool streams() const;
  void port_line(const tcpkit::ScanResult& r);  // streamed forms: one port
  void host_done(Host& h);                      // a host complete (or the scan over)
  void count_host(const Host& h);               // into the hosts' and ports' totals
  void write_host_text(const Host& h);          // text: the host's block, or its "down" line
  void finish_hosts(uint64_t planned_hosts);    // the scan is over: every host not yet done
  void write_grepable();
  void write_json_summary(const tcpkit::ScanSummary& s, const RunFacts& facts);
  void write_text_summary(const tcpkit::ScanSummary& s, const RunFacts& facts);
  std::string host_counts_text() const;
  std::string state_counts_text() const;
  void write(const std::string& text);          // to stdout, around the progress line

  const Options& options_;
  tcpkit::ProbeStyle style_;
  HostTable hosts_;
  HostTextOptions text_options_;
  tcpkit::ServiceNames services_;
  tcpkit::cli::ProgressLine* progress_ = nullptr;
  std::optional<tcpkit::CsvWriter> csv_;
  std::FILE* xml_file_ = nullptr;
  std::unique_ptr<XmlReport> xml_;
  std::map<tcpkit::IpAddress, Host> grepable_;  // written at the end
  std::array<uint64_t, tcpkit::kPortStateCount> reported_{};  // ports of hosts not down
  uint64_t up_ = 0, down_ = 0, unknown_ = 0;
  bool text_written_ = false;  // a blank line separates host blocks
  bool final_pass_ = false;    // the engine is giving the unanswered ports: no more replies
  uint64_t zero_window_open_ = 0;  // open ports whose SYN/ACK had no window (a SYN proxy's)
  static constexpr size_t kConflictsKept = 16;  // named in the summary; the rest counted
  std::vector<tcpkit::ScanResult> conflicts_;
  uint64_t icmp_refused_ = 0;      // ports whose SYNs drew an ICMP error from a router
  std::map<tcpkit::IpAddress, std::string> at_end_;  // text blocks written in address order
};

}  // namespace tcpscan
