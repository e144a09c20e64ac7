#include "tcppath/path_report.hpp"

#include <cstdio>
#include <string>

#include "tcpkit/util/display_width.hpp"
#include "tcpkit/util/stats.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcppath {

namespace {

constexpr const char* kNoteIndent = "      ";  // a hop's notes, under its router

// A note under a hop, folded to the width (a long IPv6 address or change runs past it).
void print_note(const std::string& text) {
  std::fputs(tcpkit::fold_cells(kNoteIndent + text, kTextWidth, std::string(kNoteIndent) + "  ").c_str(), stdout);
}

// "  item" at the end of the row, or on a line of its own under it where the row would pass 80 columns.
void append_cell(std::string& row, const std::string& item) {
  const size_t line_start = row.rfind('\n') == std::string::npos ? 0 : row.rfind('\n') + 1;
  const size_t used = tcpkit::display_width(std::string_view(row).substr(line_start));
  row += used + 2 + tcpkit::display_width(item) > kTextWidth ? "\n" + std::string(kNoteIndent) + item : "  " + item;
}

tcpkit::Summary rtt_summary(const std::vector<int64_t>& rtt_ns) {
  tcpkit::Samples s;
  for (int64_t ns : rtt_ns) s.add(double(ns) / 1e6);
  return s.summary();
}

// The changes first seen at this hop, with their attribution.
std::vector<const tcpkit::AttributedChange*> changes_at(const tcpkit::PathTrace& t, int hop) {
  std::vector<const tcpkit::AttributedChange*> out;
  for (const auto& c : t.summary.changes)
    if (c.to == hop) out.push_back(&c);
  return out;
}

// RFC 4884 objects: the MPLS label stack (RFC 4950), interface information (RFC 5837), and
// the class and type of any other object.
tcpkit::Record extensions_record(const tcpkit::IcmpExtensions& e) {
  tcpkit::Record r;
  r["length_field"] = e.length_field;
  tcpkit::Record mpls = tcpkit::Record::array();
  for (const auto& m : e.mpls) {
    tcpkit::Record entry;
    entry["label"] = m.label;
    entry["tc"] = m.traffic_class;
    entry["bottom_of_stack"] = m.bottom_of_stack;
    entry["ttl"] = m.ttl;
    mpls.push_back(entry);
  }
  r["mpls"] = mpls;
  tcpkit::Record interfaces = tcpkit::Record::array();
  for (const auto& i : e.interfaces) {
    tcpkit::Record entry;
    entry["role"] = tcpkit::interface_role_name(i.role);
    if (i.ifindex) entry["ifindex"] = *i.ifindex;
    if (i.address) entry["address"] = i.address->to_string();
    if (!i.name.empty()) entry["name"] = i.name;
    if (i.mtu) entry["mtu"] = *i.mtu;
    interfaces.push_back(entry);
  }
  r["interfaces"] = interfaces;
  tcpkit::Record other = tcpkit::Record::array();
  for (const auto& o : e.other) {
    tcpkit::Record entry;
    entry["class"] = o.class_num;
    entry["c_type"] = o.c_type;
    entry["length"] = o.length;
    other.push_back(entry);
  }
  r["other"] = other;
  return r;
}

// The text lines under a hop: "MPLS label 16 tc 0 ttl 1 | label 299792 tc 0 S ttl 1".
void print_extensions(const tcpkit::IcmpExtensions& e) {
  if (!e.mpls.empty()) {
    std::string stack;
    for (const auto& m : e.mpls) stack += (stack.empty() ? "" : " | ") + tcpkit::mpls_entry_text(m);
    print_note("MPLS " + stack);
  }
  for (const auto& i : e.interfaces) print_note(tcpkit::interface_info_text(i));
  for (const auto& o : e.other)
    print_note("ICMP extension object class " + std::to_string(o.class_num) + " type " + std::to_string(o.c_type) + " (" +
               std::to_string(o.length) + " bytes), not decoded");
}

tcpkit::Record hop_object(const tcpkit::PathTrace& t, const tcpkit::HopResult& h) {
  tcpkit::Record r;
  r["type"] = "hop";
  r["hop"] = h.answer.hop;
  r["router"] = h.answer.router ? tcpkit::Record(h.answer.router->to_string()) : tcpkit::Record(nullptr);
  r["sent"] = h.sent;
  r["answered"] = h.answered;
  r["rate_limited"] = h.rate_limited;
  if (!h.answer.router) r["passed"] = h.passed;
  if (!h.rtt_ns.empty()) {
    const auto s = rtt_summary(h.rtt_ns);
    r["rtt_min_ms"] = s.min;
    r["rtt_avg_ms"] = s.avg;
    r["rtt_max_ms"] = s.max;
    r["timestamps"] = tcpkit::to_string(h.timestamps);
  }
  if (h.answer.router) r["icmp"] = tcpkit::icmp_description(h.answer.v6, h.answer.icmp_type, h.answer.icmp_code);
  if (t.summary.nat_rewritten(h.answer.hop)) r["nat_rewritten"] = true;
  tcpkit::Record diff = tcpkit::Record::array();
  if (h.answer.diff)
    for (const auto& c : h.answer.diff->changes) {
      tcpkit::Record d;
      d["field"] = tcpkit::field_name(c.field);
      if (c.option) d["option"] = tcpkit::to_string(*c.option);
      d["before"] = c.before;
      d["after"] = c.after;
      diff.push_back(d);
    }
  r["quote_diff"] = diff;
  tcpkit::Record partial = tcpkit::Record::array();
  if (h.answer.diff)
    for (auto f : h.answer.diff->partial) partial.push_back(tcpkit::field_name(f));
  r["partial"] = partial;
  tcpkit::Record fresh = tcpkit::Record::array();
  for (const auto* c : changes_at(t, h.answer.hop)) {
    tcpkit::Record d;
    d["change"] = tcpkit::change_phrase(c->change);
    d["from_hop"] = c->from;
    d["to_hop"] = c->to;
    d["where"] = tcpkit::attribution_text(*c);
    fresh.push_back(d);
  }
  r["changes"] = fresh;
  if (h.answer.extensions) r["icmp_extensions"] = extensions_record(*h.answer.extensions);
  if (!h.other_routers.empty()) {
    tcpkit::Record others = tcpkit::Record::array();
    for (const auto& a : h.other_routers) others.push_back(a.to_string());
    r["other_routers"] = others;
  }
  return r;
}

// Why the trace ended: every answer that could change it was in; the destination had answered and
// the missing answers' grace time was over; the wait (-W) was over; or Ctrl-C.
const char* end_reason(const tcpkit::PathTrace& t, bool interrupted) {
  return interrupted ? "interrupted" : t.complete ? "complete" : t.grace_ended ? "grace over" : "wait over";
}

tcpkit::Record summary_record(const tcpkit::PathTrace& t, const tcpkit::IpAddress& destination, uint16_t port, bool interrupted) {
  tcpkit::Record r;
  r["type"] = "summary";
  r["destination"] = destination.to_string();
  r["port"] = port;
  r["source_port"] = t.source_port;
  r["stop"] = tcpkit::path_stop_name(t.summary.stop);
  r["last_hop"] = t.summary.last_hop;
  r["last_router"] = t.summary.last_router ? tcpkit::Record(t.summary.last_router->to_string()) : tcpkit::Record(nullptr);
  if (!t.summary.rejection.empty()) r["rejection"] = t.summary.rejection;
  if (!t.summary.nat_rewritten_hops.empty()) {
    tcpkit::Record hops = tcpkit::Record::array();
    for (int hop : t.summary.nat_rewritten_hops) hops.push_back(hop);
    r["nat_rewritten_hops"] = hops;
  }
  if (t.destination) {
    r["destination_hop"] = t.destination_hop;
    r["answer"] = tcpkit::flags_names(t.destination->flags);
    r["answer_options"] = t.destination->options.to_string();
    if (t.destination->options.mss()) r["answer_mss"] = *t.destination->options.mss();
    if (t.destination_rtt_ns) r["rtt_ms"] = double(*t.destination_rtt_ns) / 1e6;
    if (t.destination->ttl) r["answer_ttl"] = t.destination->ttl;
    if (t.summary.answered_from_hop) r["answered_from_hop"] = t.summary.answered_from_hop;
    if (t.summary.answered_from_silent_hop) r["answered_from_silent_hop"] = true;
    if (t.summary.answered_from_further_hop) r["answered_from_further_hop"] = t.summary.answered_from_further_hop;
    if (t.destination->other_port) r["answer_port"] = *t.destination->other_port;
    if (t.destination->unpaired) r["answer_unpaired"] = true;
  }
  if (t.summary.next_hop_unresolved) r["next_hop_unresolved"] = true;
  if (!t.summary.loop_routers.empty()) {
    tcpkit::Record routers = tcpkit::Record::array();
    for (const auto& a : t.summary.loop_routers) routers.push_back(a.to_string());
    r["loop_routers"] = routers;
  }
  r["verdict"] = t.summary.verdict;
  r["ended"] = end_reason(t, interrupted);
  return r;
}

std::string rtt_text(const tcpkit::HopResult& h) {
  if (h.rtt_ns.empty()) return "";
  const auto s = rtt_summary(h.rtt_ns);
  char buf[96];
  (void)std::snprintf(buf, sizeof buf, "%.3f/%.3f/%.3f ms", s.min, s.avg, s.max);
  return buf;
}

}  // namespace

tcpkit::Record hop_record(const tcpkit::PathTrace& t, const tcpkit::HopResult& h) { return hop_object(t, h); }
const char* ended_name(const tcpkit::PathTrace& t, bool interrupted) { return end_reason(t, interrupted); }

void report(const tcpkit::PathTrace& t, const tcpkit::IpAddress& destination, uint16_t port, tcpkit::Format format,
            bool interrupted, const Names& names) {
  if (format == tcpkit::Format::json) {
    tcpkit::JsonLinesWriter w(stdout);
    for (const auto& h : t.hops) {
      tcpkit::Record r = hop_object(t, h);
      if (h.answer.router)
        if (auto n = names.find(*h.answer.router); n != names.end()) r["router_name"] = n->second;
      w.write(r);
    }
    w.write(summary_record(t, destination, port, interrupted));
    return;
  }
  // The destination's own line, when it answered, is no hop row: "3 hops shown" over 4 numbered
  // lines read as a miscount.
  std::fputs(tcpkit::fold_cells("tcppath to " + destination.to_string_with_port(port) + ", " + std::to_string(t.hops.size()) +
                                     " hop" + (t.hops.size() == 1 ? "" : "s") + (t.destination ? " before it" : " shown") +
                                     ", source port " + std::to_string(t.source_port),
                                 kTextWidth, "  ")
                 .c_str(),
             stdout);
  for (const auto& h : t.hops) {
    std::printf("%2d  ", h.answer.hop);
    if (!h.answer.router) {
      const std::string why = "    *  (no answer to " + std::to_string(h.sent) + " probes" +
                              (h.passed ? "; the SYN went on: a silent or rate-limited router)" : ")");
      std::fputs(tcpkit::fold_cells(why, kTextWidth, "       ").substr(4).c_str(), stdout);
      continue;
    }
    // "name (address)" as traceroute prints a router it could name.
    const std::string address = h.answer.router->to_string();
    const auto name = names.find(*h.answer.router);
    const std::string who = name == names.end() ? address : name->second + " (" + address + ")";
    std::string row = "    " + who;  // after the "%2d  " already printed: measured with it
    if (const std::string rtt = rtt_text(h); !rtt.empty()) append_cell(row, rtt);
    append_cell(row, std::to_string(h.answered) + "/" + std::to_string(h.sent));
    if (h.answer.unreachable)
      append_cell(row, tcpkit::icmp_description(h.answer.v6, h.answer.icmp_type, h.answer.icmp_code));
    if (h.rate_limited) append_cell(row, "rate-limited");
    std::printf("%s\n", row.substr(4).c_str());
    if (t.summary.nat_rewritten(h.answer.hop))
      print_note("the address probed: a NAT's rewrite; which router this is, is not known");
    if (h.answer.extensions) print_extensions(*h.answer.extensions);
    for (const auto& a : h.other_routers)
      print_note("also answered by " + a.to_string() + ": one flow, two routers (per-packet load balancing?)");
    for (const auto* c : changes_at(t, h.answer.hop))
      print_note(tcpkit::to_string(c->change) + "  (" + tcpkit::attribution_text(*c) + ")");
    if (h.answer.diff && !h.answer.diff->partial.empty()) {
      std::string fields;
      for (auto f : h.answer.diff->partial) fields += std::string(fields.empty() ? "" : ",") + tcpkit::field_name(f);
      print_note("partial quote (" + std::to_string(h.answer.diff->quoted_bytes) + " bytes): " + fields + " not seen");
    }
  }
  if (t.destination) {
    char head[64];
    (void)std::snprintf(head, sizeof head, "%2d  ", t.destination_hop);
    std::string line = head + destination.to_string() + "  " + tcpkit::flags_names(t.destination->flags);
    if (t.destination->other_port) line += " from port " + std::to_string(*t.destination->other_port);
    if (t.destination->unpaired) line += " (ack names no SYN of ours)";
    if (t.destination_rtt_ns) {
      (void)std::snprintf(head, sizeof head, "  %.3f ms", double(*t.destination_rtt_ns) / 1e6);
      line += head;
    }
    if (const int from = t.summary.answered_from_hop ? t.summary.answered_from_hop : t.summary.answered_from_further_hop)
      line += std::string("  ") + (destination.is_v4() ? "ttl " : "hlim ") + std::to_string(t.destination->ttl) +
              ": sent from hop " + std::to_string(from) + "?";
    // Folded (a long IPv6 address with a note); the options go on a line of their own where the
    // line would pass 80 columns.
    line = tcpkit::fold_cells(line, kTextWidth, kNoteIndent);
    line.pop_back();
    if (!t.destination->options.empty()) append_cell(line, "[" + t.destination->options.to_string() + "]");
    std::printf("%s\n", line.c_str());
  }
  if (interrupted) std::printf("interrupted: the trace is partial\n");
  std::fputs(tcpkit::wrap_cells("verdict: " + t.summary.verdict, kTextWidth, 2).c_str(), stdout);
}

}  // namespace tcppath
