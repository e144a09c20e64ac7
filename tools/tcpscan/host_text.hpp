#pragma once
// The grouped text report of one host, nmap-style and better: a summary line (status, counts
// by state, first answer's RTT), then its ports sorted, the most common uninteresting state
// collapsed into one "Not shown" line. Lines fit 80 columns (long IPv6 addresses aside).
#include <string>

#include "tcpkit/util/counts.hpp"
#include "tcpkit/wire/service_names.hpp"
#include "tcpscan/host_table.hpp"

namespace tcpscan {

struct HostTextOptions {
  tcpkit::PortState positive = tcpkit::PortState::open;  // the scan's interesting state
  bool all = false;        // --all: list every port
  bool open_only = false;  // --open: list only positive ports
  uint64_t ports_per_host = 0;
};

// More ports than this in one uninteresting state are collapsed (nmap's threshold).
constexpr uint64_t kCollapseAbove = 25;

// The text and a newline, wrapped at spaces into lines of at most 80 columns; lines after the
// first start with continuation ("#   " for the # summary, "  " in a host's block).
std::string wrapped(const std::string& text, const std::string& continuation = "#   ");

// The state collapsed into "Not shown" (nmap's extraports), or -1: the most common state other
// than the positive one, when it has more than kCollapseAbove ports and --all is not given.
int collapsed_state(const Host& h, const HostTextOptions& o);

std::string host_text(const Host& h, const HostTextOptions& o, tcpkit::ServiceNames& services);

using tcpkit::count_of;
using tcpkit::with_commas;

}  // namespace tcpscan
