#pragma once
// Writes tcpstray's results: a table (text), one object per case plus a summary (JSON Lines),
// or rows under a header (CSV). Collection happens elsewhere; this only prints.
#include <string>

#include "tcpkit/util/output.hpp"
#include "tcpkit/stray/stray_run.hpp"

namespace tcpstray {

struct RunInfo {
  std::string target;
  tcpkit::IpAddress address;
  uint16_t port = 0, closed_port = 0;
  tcpkit::IpAddress source;
  std::string interface;
  std::string guard;  // the nftables table of the kernel-RST guard, if one was set
};

struct Tally {
  int cases = 0, conformant = 0, deviation = 0, inconclusive = 0, rate_limit_possible = 0;
  uint64_t capture_drops = 0;  // frames the cases' captures lost (those cases are inconclusive)
  tcpkit::RejectCounts rejected;  // replies that answer none of our segments, by why
  uint64_t duplicates = 0;        // copies of an answer already seen
  bool interrupted = false;
};

class Reporter {
 public:
  Reporter(tcpkit::Format format, bool verbose);
  void header(const RunInfo& info);
  void result(const RunInfo& info, const tcpkit::StrayRun& run, const tcpkit::StrayJudgement& judgement);
  void summary(const RunInfo& info, const Tally& tally);

 private:
  tcpkit::Record record(const RunInfo& info, const tcpkit::StrayRun& run, const tcpkit::StrayJudgement& j) const;

  tcpkit::Format format_;
  bool verbose_;
  tcpkit::JsonLinesWriter json_;
  tcpkit::CsvWriter csv_;
  bool table_started_ = false;  // text mode: the header went out with the first row
  std::string notes_;   // text mode: reasons and -v detail, printed under the table
};

// --list.
void print_catalogue(tcpkit::Format format);

}  // namespace tcpstray
