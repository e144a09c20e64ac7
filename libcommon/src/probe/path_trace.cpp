// One capture, one raw socket, every probe sent at once: the routers' answers are independent
// of each other, so the whole trace takes one round trip plus the wait.
#include "tcpkit/probe/path_trace.hpp"

#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <optional>
#include <random>
#include <thread>

#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/neighbours.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/probe/probe_ids.hpp"
#include "tcpkit/wire/segment.hpp"
#include "tcpkit/wire/segment_diff.hpp"

namespace tcpkit {

namespace {

using Clock = std::chrono::steady_clock;

struct Probe {
  int hop = 0;
  int64_t user_sent_ns = 0;
  std::optional<int64_t> kernel_sent_ns;  // our own SYN, as the capture stamped it leaving
  bool answered = false;
  bool destination_answered = false;  // a SYN/ACK or RST from the destination names it
  std::vector<uint8_t> bytes;  // as sent: its quote is diffed against these (its own IP ID)
};

}  // namespace

size_t path_probe_count(const PathTraceConfig& c) { return size_t(c.max_hops) * size_t(c.queries) + 1; }

Result<PathTrace> trace_path(const PathTraceConfig& c, int cancel_fd) {
  const bool v6 = !c.destination.is_v4();
  auto reserved = reserve_port(c.route.source, c.route.source.is_link_local() ? uint32_t(c.route.interface_index) : 0u);
  if (!reserved) return tl::unexpected(reserved.error());
  const uint16_t sport = reserved->port;
  const std::string src = c.route.source.to_string(), dst = c.destination.to_string();
  CaptureOptions co;
  co.snaplen = 1500;
  // The destination's answer from any port: a middlebox that rewrites the SYN's port and not the
  // answer's back leaves it coming from another (our port is reserved: nothing else uses it).
  co.filter = "(src host " + src + " and dst host " + dst + " and tcp src port " + std::to_string(sport) + ") or (src host " +
              dst + " and tcp dst port " + std::to_string(sport) + ") or (" + (v6 ? "icmp6" : "icmp") + " and dst host " +
              src + ")";
  auto capture = Capture::open(co);
  if (!capture) return tl::unexpected(capture.error());
  auto sender = RawSender::open(v6 ? Family::v6 : Family::v4, c.bind_interface ? c.route.interface : "");
  if (!sender) return tl::unexpected(sender.error());

  std::random_device rd;
  ProbeIds ids;
  ids.v6 = v6;
  ids.first_id = c.first_ip_id ? *c.first_ip_id : uint16_t(rd());
  ids.first_seq = uint32_t(rd());
  ids.count = path_probe_count(c);
  ids.sport = sport;
  SegmentSpec spec;
  spec.src = c.route.source;
  spec.dst = c.destination;
  spec.sport = sport;
  spec.dport = c.port;
  spec.seq = ids.first_seq;
  spec.flags = uint8_t(tcp_flag::syn | (c.ecn ? tcp_flag::ece | tcp_flag::cwr : 0));
  spec.window = c.window;
  spec.options = c.syn_options;
  // One flow: the 5-tuple and (IPv6) one non-zero flow label for every probe, which ECMP
  // hashes on; only the TTL and the probe's id differ.
  spec.flow_label = (uint32_t(rd()) & 0xfffff) | 1;
  // TSval counts up from the SYN's own (a user's ts=TSVAL is the first probe's).
  if (const auto ts = spec.options.timestamps()) {
    ids.timestamps = true;
    ids.first_ts = ts->first;
  }

  PathTrace trace;
  trace.source_port = sport;
  std::vector<Probe> probes;  // by probe index k
  probes.reserve(ids.count);
  std::optional<SendTurns::Turn> turn;
  if (c.turns) turn.emplace(c.turns->take());
  for (int hop = 1; hop <= c.max_hops; ++hop)
    for (int q = 0; q < c.queries; ++q) {
      const auto k = uint32_t(probes.size());
      spec.ttl = uint8_t(hop);
      spec.seq = ids.first_seq + k;  // the id over IPv6; both: the destination's ack names the probe
      if (!v6) spec.ip_id = uint16_t(ids.first_id + k);
      if (ids.timestamps) spec.options.set_timestamps(ids.first_ts + k, 0);
      auto bytes = craft_segment(spec);
      if (!bytes) return tl::unexpected(bytes.error());
      if (hop == 1 && q == 0) trace.sent_syn = *bytes;
      auto sent = sender->send(*bytes, c.destination);
      if (!sent) return tl::unexpected(sent.error());
      probes.push_back(Probe{hop, *sent, std::nullopt, false, false, std::move(*bytes)});
    }
  turn.reset();

  std::vector<HopResult> hops(size_t(c.max_hops));
  for (int h = 0; h < c.max_hops; ++h) {
    hops[size_t(h)].answer.hop = h + 1;
    hops[size_t(h)].sent = c.queries;
  }
  auto rtt_of = [](const Probe& p, const CapturedPacket& reply, TimestampSource& source) {
    if (p.kernel_sent_ns && reply.source == TimestampSource::kernel) return reply.time_ns - *p.kernel_sent_ns;
    source = TimestampSource::user;
    return reply.time_ns - p.user_sent_ns;
  };
  std::optional<CapturedPacket> destination_at;
  std::optional<size_t> destination_probe;  // the probe it answered, when the answer says
  // Time exceeded quoting our 4-tuple that names no probe (its IP ID, seq and TSval rewritten or
  // absent): routers answered that cannot be placed, so the hops they stand for are unknown.
  int unplaced_quotes = 0;
  // Done early once the destination answered, or a router rejected the SYN, and every probe up
  // to the last hop that answered (or the rejecting one) has its answer: nothing later can
  // change the trace. The destination usually answers last, so this is checked after its answer
  // too. A rate-limited or silent hop keeps us waiting the whole time.
  auto all_in = [&] {
    int last_answered = 0, rejected_at = 0;
    for (const HopResult& r : hops) {
      if (r.answered) last_answered = r.answer.hop;
      if (r.answer.unreachable && !rejected_at) rejected_at = r.answer.hop;
    }
    // Below the TTL that reached the destination every hop is a router that should answer.
    const int reached_at = destination_probe ? probes[*destination_probe].hop : 0;
    const int upto = rejected_at ? rejected_at : reached_at > last_answered ? reached_at - 1 : last_answered;
    if (!trace.destination && !rejected_at) return false;
    // An RST may answer a SYN that met the half-open connection another probe opened: every
    // probe that reached the destination is heard first, in case one drew the SYN/ACK.
    if (trace.destination && (trace.destination->flags & tcp_flag::rst) && reached_at > 0 &&
        !std::all_of(probes.begin(), probes.end(),
                     [&](const Probe& p) { return p.destination_answered || p.hop < reached_at; }))
      return false;
    return std::all_of(probes.begin(), probes.end(), [&](const Probe& p) { return p.answered || p.hop > upto; });
  };
  // Once the destination answered (or a router rejected the SYN), an answer still missing is from
  // a silent or rate-limited hop: it is waited for only as long as a slow router plausibly takes,
  // kGraceFactor times the time the trace has taken so far (traceroute's "here" factor is 3, its
  // "near" factor 10), at least kMinGrace, never past -W.
  constexpr int kGraceFactor = 10;
  constexpr auto kMinGrace = std::chrono::milliseconds(100);
  const auto started = Clock::now();
  const auto wait_end = started + c.wait;
  auto until = wait_end;
  auto shorten_wait = [&] {
    const auto now = Clock::now();
    const auto grace = std::max<Clock::duration>(kMinGrace, (now - started) * kGraceFactor);
    until = std::min(until, now + grace);
  };
  // A router that rejects the SYN may have spent its ICMP rate limit (Linux: a burst of 6, then
  // one a second, time exceeded and unreachable alike) on the time exceeded of the probes that
  // expired there: the rejections then never come, and a reject reads as a drop. So a trace
  // that ends in silence after a hop that answered sends one SYN more, 1 s later, with the
  // highest TTL (it goes as far as anything lets it), counted at the hop after the last answer
  // (where the stop is placed; a rejecting router that answered time exceeded is placed where
  // it did), and listens for its answer as long again.
  constexpr auto kRateLimitRefill = std::chrono::milliseconds(1000);
  // false: no reason to ask (or cancelled while waiting for the refill).
  auto ask_again = [&]() -> Result<bool> {
    int last_answered = 0;
    bool rejected = false;
    for (const HopResult& r : hops) {
      if (r.answered) last_answered = r.answer.hop;
      rejected = rejected || r.answer.unreachable;
    }
    if (trace.destination || rejected || last_answered == 0 || last_answered >= c.max_hops) return false;
    pollfd cancel{cancel_fd, POLLIN, 0};
    if (cancel_fd >= 0 && ::poll(&cancel, 1, int(kRateLimitRefill.count())) > 0) return false;
    if (cancel_fd < 0) std::this_thread::sleep_for(kRateLimitRefill);
    const auto k = uint32_t(probes.size());
    spec.ttl = uint8_t(c.max_hops);
    spec.seq = ids.first_seq + k;
    if (!v6) spec.ip_id = uint16_t(ids.first_id + k);
    if (ids.timestamps) spec.options.set_timestamps(ids.first_ts + k, 0);
    auto bytes = craft_segment(spec);
    if (!bytes) return tl::unexpected(bytes.error());
    std::optional<SendTurns::Turn> again;
    if (c.turns) again.emplace(c.turns->take());
    auto sent = sender->send(*bytes, c.destination);
    if (!sent) return tl::unexpected(sent.error());
    probes.push_back(Probe{last_answered + 1, *sent, std::nullopt, false, false, std::move(*bytes)});
    ++hops[size_t(last_answered)].sent;
    trace.asked_again = true;
    until = Clock::now() + kRateLimitRefill;
    return true;
  };
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      auto asked = ask_again();
      if (!asked) return tl::unexpected(asked.error());
      if (!*asked) break;
    }
    while (true) {
      auto next = capture->next(until, cancel_fd);
      if (!next) return tl::unexpected(next.error());
      if (!*next) {
        trace.grace_ended = until < wait_end;
        break;
      }
      const CapturedPacket& pkt = **next;
      const auto d = decode_packet(pkt.data.data(), pkt.data.size());
      if (!d) continue;
      if (d->kind == DecodedPacket::Kind::tcp && pkt.outgoing) {
        if (const auto k = ids.of_sent(*d); k && d->src == c.route.source && d->tcp.sport == sport)
          probes[*k].kernel_sent_ns = pkt.time_ns;
        continue;
      }
      if (d->kind == DecodedPacket::Kind::tcp && d->src == c.destination && d->tcp.dport == sport) {
        const uint8_t f = d->tcp.flags;
        const bool syn_ack = (f & (tcp_flag::syn | tcp_flag::ack)) == (tcp_flag::syn | tcp_flag::ack);
        const bool rst = (f & tcp_flag::rst) != 0;
        const auto answered = ids.of_answer(*d);
        if (!syn_ack && !rst) continue;
        // An ack that names no probe still answers one of them (nothing else goes to our port):
        // its seq was rewritten on the way and the ack not back. A paired answer is preferred.
        const bool unpaired = (f & tcp_flag::ack) && !answered;
        if (answered) probes[*answered].destination_answered = true;
        DestinationAnswer answer{d->src, f, d->tcp.options, d->ttl, 0};
        if (d->tcp.sport != c.port) answer.other_port = d->tcp.sport;
        answer.probed_port = c.port;
        answer.unpaired = unpaired;
        if (!trace.destination) {
          trace.destination = answer;
          destination_at = pkt;
          destination_probe = answered;
          if ((trace.complete = all_in())) break;
          shorten_wait();
        } else if (unpaired) {
          continue;
        } else {
          // Every probe is the same 4-tuple: a SYN that meets the half-open connection an earlier
          // probe opened (its SYN/ACK lost, or the probes reordered) draws an RST. A SYN/ACK to
          // any probe shows the listener: an open port was reported as answering RST+ACK.
          if ((syn_ack && (trace.destination->flags & tcp_flag::rst)) || trace.destination->unpaired)
            trace.destination = answer;
          if (answered && (!destination_probe || probes[*answered].hop < probes[*destination_probe].hop)) {
            destination_probe = answered;  // a later answer to a lower TTL (the first one's probes lost)
            destination_at = pkt;
          }
        }
        continue;
      }
      if (d->kind != DecodedPacket::Kind::icmp_error || pkt.outgoing) continue;
      const auto k = ids.of_quote(d->icmp.quoted, c.destination);
      const QuotedDatagram& q = d->icmp.quoted;
      if (!k && d->icmp.type == (v6 ? 3 : 11) && q.protocol == IPPROTO_TCP && q.dst == c.destination &&
          q.ports_known && q.sport == sport && q.dport == c.port)
        ++unplaced_quotes;
      if (!k || probes[*k].answered) continue;
      Probe& p = probes[*k];
      p.answered = true;
      // Time exceeded: ICMP 11, ICMPv6 3; destination unreachable: ICMP 3, ICMPv6 1.
      const bool time_exceeded = d->icmp.type == (v6 ? 3 : 11);
      const bool unreachable = d->icmp.type == (v6 ? 1 : 3);
      if (!time_exceeded && !unreachable) continue;
      HopResult& h = hops[size_t(p.hop - 1)];
      ++h.answered;
      h.rtt_ns.push_back(rtt_of(p, pkt, h.timestamps));
      if (!h.answer.router) {
        h.answer.router = d->src;
        h.answer.v6 = v6;
        h.answer.unreachable = unreachable;
        if (unreachable) shorten_wait();
        h.answer.icmp_type = d->icmp.type;
        h.answer.icmp_code = d->icmp.code;
        h.answer.diff = diff_quoted_segment(p.bytes, icmp_error_quote(pkt.data));
        const IcmpErrorMessage message = icmp_error_message(pkt.data);
        h.answer.extensions = decode_icmp_extensions(message.message.data(), message.message.size(), message.v6);
      } else if (*h.answer.router != d->src &&
                 std::find(h.other_routers.begin(), h.other_routers.end(), d->src) == h.other_routers.end()) {
        h.other_routers.push_back(d->src);
      }
      if ((trace.complete = all_in())) break;
    }
  }

  // The hops worth showing: up to the destination or the first rejection, else up to the last
  // answer and one silent hop after it (the stop point).
  int last = 0, reject = 0;
  for (const HopResult& h : hops)
    if (h.answer.router) {
      last = h.answer.hop;
      if (h.answer.unreachable && !reject) reject = h.answer.hop;
    }
  int shown = reject ? reject : std::min(c.max_hops, last + 1);
  if (trace.destination && !reject) {
    // The TTL of the probe it answered, when known: a last router that stayed silent (or whose
    // answer was lost) is then a silent hop, not the destination one hop too near.
    const int reached_at = destination_probe ? probes[*destination_probe].hop : 0;
    trace.destination_hop = reached_at > last ? reached_at : last + 1;
    // An answer that names no probe (its ack rewritten on the way, no TSecr to go by) leaves
    // last + 1 only the nearest the destination can be. When routers answered quotes of our
    // 4-tuple that name no probe (their hops unknown), the answer's own TTL, where it says further within the
    // TTLs sent, places it (found: the hop of such a router taken for the destination's, and TTL
    // normalisation blamed for the gap); else the way back may be longer, and that is said.
    if (!destination_probe && unplaced_quotes > 0)
      if (const int from = answer_hop(trace.destination->ttl); from > trace.destination_hop && from <= c.max_hops)
        trace.destination_hop = from;
    shown = trace.destination_hop - 1;
  }
  hops.resize(size_t(shown));
  int later_answer = trace.destination_hop;  // the highest hop with an answer past each hop
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    it->rate_limited = it->answered > 0 && it->answered < it->sent;
    it->passed = it->answered == 0 && later_answer > it->answer.hop;
    if (it->answered) later_answer = std::max(later_answer, it->answer.hop);
  }
  // The RTT is the answered probe's; when the answer does not say which (every TTL past the
  // destination's distance reaches it), the first probe's of the first TTL that reached it.
  if (destination_at && destination_probe && probes[*destination_probe].hop == trace.destination_hop) {
    TimestampSource source = TimestampSource::kernel;
    trace.destination_rtt_ns = rtt_of(probes[*destination_probe], *destination_at, source);
  } else if (destination_at && trace.destination_hop > 0)
    for (const Probe& p : probes)
      if (p.hop == trace.destination_hop) {
        TimestampSource source = TimestampSource::kernel;
        trace.destination_rtt_ns = rtt_of(p, *destination_at, source);
        break;
      }
  std::vector<HopAnswer> answers;
  answers.reserve(hops.size());
  for (const HopResult& h : hops) {
    answers.push_back(h.answer);
    answers.back().several_routers = !h.other_routers.empty();
  }
  if (trace.destination) trace.destination->hop = trace.destination_hop;
  trace.summary = summarize_path(answers, trace.destination, c.destination, c.max_hops);
  // Found: a host gone from the link read only "no hop and not the destination answered", where
  // tcpprobe and tcpscan said that the SYNs never left.
  if (trace.summary.stop == PathStop::no_answer && next_hop_unresolved(c.route, c.destination)) {
    trace.summary.next_hop_unresolved = true;
    trace.summary.verdict = "no hop and not the destination answered: the SYNs never left this host, " +
                            unanswered_next_hop(c.route, c.destination) +
                            " (a host or router that is gone or not on the link)";
  }
  // The last hop that answered held some answers back, and nothing answered past it: its ICMP
  // rate limit, or a firewall nearer that lets SYNs through at a limited rate, so that only
  // some probes of that TTL got there (found: such a firewall at hop 2 read "dropped after hop 3").
  if (trace.summary.stop == PathStop::dropped && trace.summary.last_hop > 0 &&
      size_t(trace.summary.last_hop) <= hops.size()) {
    const HopResult& h = hops[size_t(trace.summary.last_hop - 1)];
    if (h.answered > 0 && h.answered < h.sent)
      trace.summary.verdict += "; hop " + std::to_string(h.answer.hop) + " answered " + std::to_string(h.answered) +
                               " of " + std::to_string(h.sent) + " probes: its ICMP rate limit, or a firewall " +
                               (h.answer.hop > 1 ? "at hop " + std::to_string(h.answer.hop - 1) + " or nearer" : "on this host") +
                               " that lets SYNs through at a limited rate, which is then where the SYN is dropped";
  }
  if (trace.asked_again) {
    const Probe& last_probe = probes.back();
    if (trace.summary.stop == PathStop::dropped)
      trace.summary.verdict += "; a SYN sent again 1 s later, when a router's ICMP rate limit would let an answer "
                               "through, drew nothing either";
    else if (trace.summary.stop == PathStop::rejected && last_probe.answered)
      trace.summary.verdict += " (seen on a SYN sent again 1 s later: the router's ICMP rate limit had held "
                               "its answers to the first ones back)";
  }
  trace.hops = std::move(hops);
  return trace;
}

}  // namespace tcpkit
