// summarize_flows: traces of one path over several flows, built by hand.
#include <catch2/catch.hpp>

#include "tcpkit/probe/path_flows.hpp"

using namespace tcpkit;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// A trace through these routers ("" for a silent hop), reached at the hop after the last.
PathTrace trace(std::vector<const char*> routers, bool reached = true) {
  PathTrace t;
  int hop = 0;
  for (const char* r : routers) {
    HopResult h;
    h.answer.hop = ++hop;
    if (*r) h.answer.router = ip(r);
    t.hops.push_back(h);
  }
  t.summary.stop = reached ? PathStop::reached : PathStop::dropped;
  if (reached) t.destination_hop = hop + 1;
  return t;
}

AttributedChange window_change(int from, int to) {
  AttributedChange c;
  c.change.field = SegmentField::window;
  c.change.before = "64240";
  c.change.after = "1000";
  c.from = from;
  c.to = to;
  return c;
}

}  // namespace

TEST_CASE("path flows: two parallel routers at hop 2, rejoining at hop 3") {
  std::vector<PathTrace> traces = {trace({"10.0.0.2", "10.0.1.2", "10.0.2.2"}), trace({"10.0.0.2", "10.0.50.2", "10.0.2.2"}),
                                   trace({"10.0.0.2", "10.0.1.2", "10.0.2.2"})};
  traces[1].summary.changes.push_back(window_change(2, 3));  // only the path through 10.0.50.2
  const FlowsSummary s = summarize_flows(traces);
  CHECK(s.flows == 3);
  CHECK(s.reached == 3);
  REQUIRE(s.hops.size() == 3);
  CHECK(s.hops[0].routers.size() == 1);
  REQUIRE(s.hops[1].routers.size() == 2);
  CHECK(s.hops[1].routers[0] == std::pair{ip("10.0.1.2"), 2});
  CHECK(s.hops[1].routers[1] == std::pair{ip("10.0.50.2"), 1});
  CHECK(s.paths == 2);
  CHECK(s.diverge_after == 1);
  CHECK(s.rejoin_at == 3);
  REQUIRE(s.changes.size() == 1);
  CHECK(s.changes[0].flows == 1);
  CHECK(s.verdict == "3 flows: 2 paths, diverging after hop 1 and rejoining at hop 3; window 64240 -> 1000 between hop 2 "
                     "and hop 3 on 1 of 3 flows; 3 of 3 flows reached the destination");
}

TEST_CASE("path flows: one path, a silent hop is no divergence, the destination is where they rejoin") {
  const FlowsSummary one = summarize_flows({trace({"10.0.0.2", "", "10.0.2.2"}), trace({"10.0.0.2", "", "10.0.2.2"})});
  CHECK(one.paths == 1);
  CHECK(one.diverge_after == -1);
  CHECK(one.hops[1].silent == 2);
  CHECK(one.verdict == "2 flows: one path; 2 of 2 flows reached the destination");
  // Diverging at the last router: they meet again only at the destination.
  const FlowsSummary late = summarize_flows({trace({"10.0.0.2", "10.0.1.2"}), trace({"10.0.0.2", "10.0.50.2"})});
  CHECK(late.diverge_after == 1);
  CHECK(late.rejoin_at == 3);
  // A flow that did not arrive: no rejoin is claimed.
  const FlowsSummary lost = summarize_flows({trace({"10.0.0.2", "10.0.1.2"}), trace({"10.0.0.2", "10.0.50.2"}, false)});
  CHECK(lost.rejoin_at == 0);
  CHECK(lost.reached == 1);
  CHECK(lost.verdict == "2 flows: 2 paths, diverging after hop 1 and not seen to rejoin; 1 of 2 flows reached the destination");
}

TEST_CASE("path flows: a flow that lost one answer is not a path of its own") {
  // Seen in CI: one of 16 flows lost hop 3's time exceeded and was counted as a third path.
  const FlowsSummary s = summarize_flows({trace({"10.0.0.2", "10.0.1.2", "10.0.2.2"}), trace({"10.0.0.2", "10.0.50.2", "10.0.2.2"}),
                                          trace({"10.0.0.2", "10.0.50.2", ""}), trace({"10.0.0.2", "", "10.0.2.2"})});
  CHECK(s.paths == 2);
  CHECK(s.diverge_after == 1);
  CHECK(s.rejoin_at == 3);  // the flows that answered at hop 3 agree
  CHECK(s.hops[2].silent == 1);
  // A gap that fits no answered path is one: its other hops differ.
  const FlowsSummary other = summarize_flows({trace({"10.0.0.2", "10.0.1.2"}), trace({"10.0.0.9", ""})});
  CHECK(other.paths == 2);
}

TEST_CASE("path flows: each flow's probes carry IP IDs and TSvals of their own") {
  PathTraceConfig c;
  c.max_hops = 30;
  c.queries = 3;
  REQUIRE(c.syn_options.timestamps());
  const uint32_t ts = c.syn_options.timestamps()->first;
  const size_t count = path_probe_count(c);
  CHECK(count == 91);
  // A base near the top: the windows wrap past 65535 without meeting.
  const auto flows = flow_configs(c, 16, 65500);
  REQUIRE(flows.size() == 16);
  for (size_t i = 0; i < flows.size(); ++i) {
    CHECK(*flows[i].first_ip_id == uint16_t(65500 + i * count));
    CHECK(flows[i].syn_options.timestamps()->first == uint32_t(ts + i * count));
    CHECK(flows[i].max_hops == 30);
  }
  for (size_t i = 0; i < flows.size(); ++i)
    for (size_t j = i + 1; j < flows.size(); ++j) {
      const uint16_t apart = uint16_t(*flows[j].first_ip_id - *flows[i].first_ip_id);
      CHECK(apart >= count);
      CHECK(uint16_t(*flows[i].first_ip_id - *flows[j].first_ip_id) >= count);
    }
  CHECK(flow_configs(c, 0, 1).empty());
}

TEST_CASE("path flows: a rewrite of a field each flow sets on its own is one change on so many flows") {
  // Found: r2 setting every IP ID to 0 read "ip_id 33300 -> 0 ... on 1 of 4 flows" four times.
  auto rewrite = [](SegmentField field, const std::string& before, const std::string& after) {
    AttributedChange c;
    c.change.field = field;
    c.change.before = before;
    c.change.after = after;
    c.from = 2;
    c.to = 3;
    return c;
  };
  std::vector<PathTrace> traces;
  for (int i = 0; i < 4; ++i) {
    traces.push_back(trace({"10.0.0.2", "10.0.1.2", "10.0.2.2"}));
    traces.back().summary.changes.push_back(rewrite(SegmentField::ip_id, std::to_string(33300 + 6 * i), "0"));
    traces.back().summary.changes.push_back(rewrite(SegmentField::sport, std::to_string(40000 + i), std::to_string(50000 + i)));
  }
  traces[0].summary.changes.push_back(window_change(2, 3));
  const FlowsSummary s = summarize_flows(traces);
  REQUIRE(s.changes.size() == 3);
  CHECK(s.changes[0].phrase == "ip_id rewritten to 0");
  CHECK(s.changes[0].flows == 4);
  CHECK(s.changes[1].phrase == "sport rewritten");  // a NAT: each flow's port came out another
  CHECK(s.changes[1].flows == 4);
  CHECK(s.changes[2].phrase == "window 64240 -> 1000");  // a field all flows share keeps its values
  CHECK(s.changes[2].flows == 1);
}
