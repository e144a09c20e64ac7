#include "tcpscan/host_text.hpp"
#include "common/wording.hpp"
#include "tcpkit/util/display_width.hpp"
#include "tcpkit/util/output.hpp"

#include <cstdio>
#include <map>

namespace tcpscan {

using tcpkit::PortState;

namespace {

// The text report fits a classic 80-column terminal.
constexpr size_t kTextWidth = tcpkit::cli::kTerminalColumns;
// Port table columns, nmap's: "22/tcp    open           ssh             syn-ack ttl 64".
constexpr size_t kPortColumn = 10, kStateColumn = 15, kServiceColumn = 16;

std::string counts_text(const Host& h) {
  std::string out;
  for (int i = 0; i < tcpkit::kPortStateCount; ++i)
    if (h.states[size_t(i)] > 0)
      out += (out.empty() ? "" : ", ") + with_commas(h.states[size_t(i)]) + " " + tcpkit::to_string(PortState(i));
  return out;
}

std::string rtt_text(const Host& h) {
  if (h.replies == 0) return "no answer on any port";
  if (h.first_rtt_ns <= 0) return "first answer's RTT unknown";
  return "first answer in " + tcpkit::format_fixed(double(h.first_rtt_ns) / 1e6, 3) + " ms";
}

std::string status_text(const Host& h) {
  switch (h.status) {
    case HostStatus::up:
      if (h.reason == "user-set") return "up (assumed: -Pn)";
      if (h.reason == "arp-response") return "up (answered ARP)";
      if (h.reason == "nd-response") return "up (answered neighbour discovery)";
      if (h.reason == "ack-reset") return "up (silent to SYNs, but reset an ACK)";
      return "up";
    case HostStatus::down: return "down or unreachable (" + h.why + ")";
    case HostStatus::unknown: return "unknown (" + (h.why.empty() ? std::string("interrupted before any answer") : h.why) + ")";
  }
  return "";
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// "head; tail" and a newline; in kTextWidth columns, the tail goes on a line of its own when it must.
std::string fit(const std::string& head, const std::string& tail) {
  return head + (head.size() + 2 + tail.size() > kTextWidth ? ";\n  " : "; ") + tail + "\n";
}

}  // namespace

std::string wrapped(const std::string& text, const std::string& continuation) {
  return tcpkit::fold_cells(text, kTextWidth, continuation);
}

int collapsed_state(const Host& h, const HostTextOptions& o) {
  int hidden = -1;
  if (o.all) return hidden;
  uint64_t most = kCollapseAbove;
  for (int i = 0; i < tcpkit::kPortStateCount; ++i)
    if (PortState(i) != o.positive && h.states[size_t(i)] > most) {
      most = h.states[size_t(i)];
      hidden = i;
    }
  return hidden;
}

std::string host_text(const Host& h, const HostTextOptions& o, tcpkit::ServiceNames& services) {
  std::string out = h.address.to_string() + ": " + status_text(h);
  if (h.status == HostStatus::down) {
    // The why alone can pass a line: "(ICMP network unreachable from 192.168.10.254)".
    const std::string tail = "-Pn lists its " + count_of(h.results, "port");
    return out.size() > kTextWidth ? wrapped(out + "; " + tail, "  ") : fit(out, tail);
  }
  if (const auto counts = counts_text(h); !counts.empty()) out += "; " + counts;
  if (h.results < o.ports_per_host) out += ", " + with_commas(o.ports_per_host - h.results) + " unknown";
  // A status with its reason in words is longer than a line: wrapped at word boundaries.
  out = h.status == HostStatus::unknown && !h.why.empty() ? wrapped(out + "; " + rtt_text(h), "  ") : fit(out, rtt_text(h));

  const int hidden = collapsed_state(h, o);
  std::string rows;
  std::map<std::string, uint64_t> hidden_reasons;
  uint64_t hidden_count = 0, shown = 0;
  for (const auto& p : h.ports) {
    const auto v = p.verdict();
    // A port that reset the ACK check is never folded away: it is the one to look at.
    const bool folded = int(p.state) == hidden && p.ack != tcpkit::AckAnswer::reset;
    if (folded || (o.open_only && v.state != o.positive)) {
      if (folded) {
        ++hidden_reasons[reason_word(v)];
        ++hidden_count;
      }
      continue;
    }
    std::string service = services.name(p.port);
    if (service.size() >= kServiceColumn) service.resize(kServiceColumn - 1);  // one space is left
    std::string reason = reason_word(p);
    const std::string ttl = v.reason != tcpkit::Reason::no_response ? " ttl " + std::to_string(p.ttl) : "";
    const std::string lead = pad(std::to_string(p.port) + "/tcp", kPortColumn) + pad(tcpkit::to_string(v.state), kStateColumn) +
                             pad(service, kServiceColumn);
    if (const auto router = h.reason_ip(p)) {
      // The router's name where the row has room; past 80 columns, on a line of its own below.
      const std::string from = "from " + router->to_string();
      // Under the REASON column, or nearer the margin when a long IPv6 address would pass 80.
      const size_t indent = lead.size() + from.size() <= kTextWidth ? lead.size() : 2;
      if (lead.size() + reason.size() + 1 + from.size() + ttl.size() <= kTextWidth)
        reason.append(" ").append(from).append(ttl);
      else
        reason.append(ttl).append("\n").append(indent, ' ').append(from);
    } else {
      reason += ttl;
    }
    rows += lead + reason;
    while (!rows.empty() && rows.back() == ' ') rows.pop_back();
    rows += '\n';
    ++shown;
  }
  if (hidden_count > 0) {
    std::string reasons;
    for (const auto& [word, n] : hidden_reasons)
      reasons += (reasons.empty() ? "" : ", ") + (hidden_reasons.size() == 1 ? word : with_commas(n) + " " + word);
    const std::string state = tcpkit::to_string(PortState(hidden));
    out += wrapped("Not shown: " + count_of(hidden_count, state + " port") + " (" + reasons + ")", "  ");
  }
  if (shown > 0) out += "PORT      STATE          SERVICE         REASON\n" + rows;
  return out;
}

}  // namespace tcpscan
