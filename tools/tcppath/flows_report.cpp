// tcppath --flows N: each flow's hops in JSON, then the multipath view in text and JSON.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "tcppath/path_report.hpp"
#include "tcpkit/util/display_width.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcppath {

namespace {

std::string router_text(const tcpkit::IpAddress& a, const Names& names) {
  const auto n = names.find(a);
  return n == names.end() ? a.to_string() : n->second + " (" + a.to_string() + ")";
}

tcpkit::Record flow_record(const tcpkit::PathTrace& t, int flow, bool interrupted) {
  tcpkit::Record r;
  r["type"] = "flow";
  r["flow"] = flow;
  r["source_port"] = t.source_port;
  r["stop"] = tcpkit::path_stop_name(t.summary.stop);
  r["last_hop"] = t.summary.last_hop;
  if (t.destination) {
    r["destination_hop"] = t.destination_hop;
    r["answer"] = tcpkit::flags_names(t.destination->flags);
  }
  r["verdict"] = t.summary.verdict;
  r["ended"] = ended_name(t, interrupted);
  return r;
}

tcpkit::Record summary_record(const tcpkit::FlowsSummary& s, const tcpkit::IpAddress& destination, uint16_t port,
                              const std::string& ended, const Names& names) {
  tcpkit::Record r;
  r["type"] = "summary";
  r["destination"] = destination.to_string();
  r["port"] = port;
  r["flows"] = s.flows;
  r["reached"] = s.reached;
  r["paths"] = s.paths;
  r["diverge_after"] = s.diverge_after >= 0 ? tcpkit::Record(s.diverge_after) : tcpkit::Record(nullptr);
  r["rejoin_at"] = s.rejoin_at ? tcpkit::Record(s.rejoin_at) : tcpkit::Record(nullptr);
  tcpkit::Record hops = tcpkit::Record::array();
  for (const auto& h : s.hops) {
    tcpkit::Record hop;
    hop["hop"] = h.hop;
    tcpkit::Record routers = tcpkit::Record::array();
    for (const auto& [address, flows] : h.routers) {
      tcpkit::Record one;
      one["router"] = address.to_string();
      if (auto n = names.find(address); n != names.end()) one["router_name"] = n->second;
      one["flows"] = flows;
      routers.push_back(one);
    }
    hop["routers"] = routers;
    hop["silent"] = h.silent;
    hops.push_back(hop);
  }
  r["hops"] = hops;
  tcpkit::Record changes = tcpkit::Record::array();
  for (const auto& c : s.changes) {
    tcpkit::Record one;
    one["change"] = c.phrase;
    one["where"] = c.where;
    one["flows"] = c.flows;
    changes.push_back(one);
  }
  r["changes"] = changes;
  r["verdict"] = s.verdict;
  r["ended"] = ended;
  return r;
}

}  // namespace

void report_flows(const std::vector<tcpkit::PathTrace>& traces, const tcpkit::FlowsSummary& s,
                  const tcpkit::IpAddress& destination, uint16_t port, tcpkit::Format format, bool interrupted,
                  const Names& names) {
  bool complete = true, grace = true;
  for (const auto& t : traces) {
    complete = complete && t.complete;
    grace = grace && (t.complete || t.grace_ended);
  }
  const std::string ended = interrupted ? "interrupted" : complete ? "complete" : grace ? "grace over" : "wait over";
  if (format == tcpkit::Format::json) {
    tcpkit::JsonLinesWriter w(stdout);
    for (size_t i = 0; i < traces.size(); ++i) {
      for (const auto& h : traces[i].hops) {
        tcpkit::Record r = hop_record(traces[i], h);
        r["flow"] = int(i) + 1;
        r["source_port"] = traces[i].source_port;
        if (h.answer.router)
          if (auto n = names.find(*h.answer.router); n != names.end()) r["router_name"] = n->second;
        w.write(r);
      }
      w.write(flow_record(traces[i], int(i) + 1, interrupted));
    }
    w.write(summary_record(s, destination, port, ended, names));
    return;
  }
  // Every line in 80 columns: 16 source ports, a hop's routers over IPv6, the verdict.
  std::string ports;
  for (const auto& t : traces) ports += (ports.empty() ? "" : ", ") + std::to_string(t.source_port);
  std::fputs(tcpkit::fold_cells("tcppath to " + destination.to_string_with_port(port) + ", " + std::to_string(s.flows) +
                                     " flows (source ports " + ports + ")",
                                 kTextWidth, "  ")
                 .c_str(),
             stdout);
  const std::string of_flows = "/" + std::to_string(s.flows);
  for (const auto& h : s.hops) {
    std::vector<std::string> cells;
    for (const auto& [address, flows] : h.routers)
      cells.push_back(router_text(address, names) + "  " + std::to_string(flows) + of_flows);
    if (h.silent) cells.push_back("*  " + std::to_string(h.silent) + of_flows + " no answer");
    std::string row = (h.hop < 10 ? " " : "") + std::to_string(h.hop) + "  ";
    size_t line_start = 0;
    for (size_t i = 0; i < cells.size(); ++i) {
      // A router and its count stay together: the row breaks between routers only.
      if (i > 0 && tcpkit::display_width(std::string_view(row).substr(line_start)) + 5 + tcpkit::display_width(cells[i]) >
                       kTextWidth) {
        row += "\n   ";
        line_start = row.size() - 3;
      }
      row += (i > 0 ? "  |  " : "") + cells[i];
    }
    std::printf("%s\n", row.c_str());
  }
  int destination_hop = 0;
  for (const auto& t : traces) destination_hop = std::max(destination_hop, t.destination_hop);
  if (s.reached)
    std::printf("%2d  %s  answered %d/%d\n", destination_hop, destination.to_string().c_str(), s.reached, s.flows);
  if (interrupted) std::printf("interrupted: the traces are partial\n");
  std::fputs(tcpkit::fold_cells("verdict: " + s.verdict, kTextWidth, "  ").c_str(), stdout);
}

}  // namespace tcppath
