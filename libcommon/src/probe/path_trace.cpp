// One capture, one raw socket, every probe sent at once: the routers' answers are independent
// of each other, so the whole trace takes one round trip plus the wait.
#include "tcpkit/probe/path_trace.hpp"

#include <algorithm>
#include <map>
#include <random>

#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/raw_socket.hpp"
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
  std::vector<uint8_t> bytes;  // as sent: its quote is diffed against these (its own IP ID)
};

uint16_t read16(const std::vector<uint8_t>& b, size_t o) { return uint16_t(b[o] << 8 | b[o + 1]); }

}  // namespace

Result<PathTrace> trace_path(const PathTraceConfig& c, int cancel_fd) {
  if (!c.destination.is_v4()) return fail(ErrorCode::bad_input, "tcppath traces IPv4 only for now");
  auto reserved = reserve_port(c.route.source);
  if (!reserved) return tl::unexpected(reserved.error());
  const uint16_t sport = reserved->port;
  const std::string src = c.route.source.to_string(), dst = c.destination.to_string();
  CaptureOptions co;
  co.snaplen = 1500;
  co.filter = "(src host " + src + " and dst host " + dst + " and tcp src port " + std::to_string(sport) + ") or (src host " +
              dst + " and tcp src port " + std::to_string(c.port) + " and dst port " + std::to_string(sport) +
              ") or (icmp and dst host " + src + ")";
  auto capture = Capture::open(co);
  if (!capture) return tl::unexpected(capture.error());
  auto sender = RawSender::open(Family::v4);
  if (!sender) return tl::unexpected(sender.error());

  std::random_device rd;
  const auto first_id = uint16_t(rd());
  SegmentSpec spec;
  spec.src = c.route.source;
  spec.dst = c.destination;
  spec.sport = sport;
  spec.dport = c.port;
  spec.seq = uint32_t(rd());
  spec.flags = tcp_flag::syn;
  spec.window = c.window;
  spec.options = c.syn_options;

  PathTrace trace;
  trace.source_port = sport;
  std::map<uint16_t, Probe> probes;  // by IP ID
  uint16_t id = first_id;
  for (int hop = 1; hop <= c.max_hops; ++hop)
    for (int q = 0; q < c.queries; ++q, ++id) {
      spec.ttl = uint8_t(hop);
      spec.ip_id = id;
      auto bytes = craft_segment(spec);
      if (!bytes) return tl::unexpected(bytes.error());
      if (hop == 1 && q == 0) trace.sent_syn = *bytes;
      auto sent = sender->send(*bytes, c.destination);
      if (!sent) return tl::unexpected(sent.error());
      probes[id] = Probe{hop, *sent, std::nullopt, false, std::move(*bytes)};
    }

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
    const int upto = rejected_at ? rejected_at : last_answered;
    if (!trace.destination && !rejected_at) return false;
    return std::all_of(probes.begin(), probes.end(), [&](const auto& e) { return e.second.answered || e.second.hop > upto; });
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
      if (auto it = probes.find(d->ip_id); it != probes.end() && d->src == c.route.source && d->tcp.sport == sport)
        it->second.kernel_sent_ns = pkt.time_ns;
      continue;
    }
    if (d->kind == DecodedPacket::Kind::tcp && d->src == c.destination && d->tcp.dport == sport) {
      const uint8_t f = d->tcp.flags;
      const bool syn_ack = (f & (tcp_flag::syn | tcp_flag::ack)) == (tcp_flag::syn | tcp_flag::ack);
      const bool rst = (f & tcp_flag::rst) != 0;
      if ((!syn_ack && !rst) || ((f & tcp_flag::ack) && d->tcp.ack != spec.seq + 1)) continue;
      if (!trace.destination) {
        trace.destination = DestinationAnswer{d->src, f, d->tcp.options};
        destination_at = pkt;
        if ((trace.complete = all_in())) break;
        shorten_wait();
      }
      continue;
    }
    if (d->kind != DecodedPacket::Kind::icmp_error || pkt.outgoing) continue;
    const auto quote = icmp_error_quote(pkt.data);
    if (quote.size() < 20 || (quote[0] >> 4) != 4 || quote[9] != 6) continue;
    const std::vector<uint8_t> head(quote.begin(), quote.begin() + 20);
    const auto it = probes.find(read16(head, 4));
    if (it == probes.end() || IpAddress::from_v4(head.data() + 16) != c.destination || it->second.answered) continue;
    Probe& p = it->second;
    p.answered = true;
    const bool time_exceeded = d->icmp.type == 11;
    const bool unreachable = d->icmp.type == 3;
    if (!time_exceeded && !unreachable) continue;
    HopResult& h = hops[size_t(p.hop - 1)];
    ++h.answered;
    h.rtt_ns.push_back(rtt_of(p, pkt, h.timestamps));
    if (!h.answer.router) {
      h.answer.router = d->src;
      h.answer.unreachable = unreachable;
      if (unreachable) shorten_wait();
      h.answer.icmp_type = d->icmp.type;
      h.answer.icmp_code = d->icmp.code;
      h.answer.diff = diff_quoted_segment(p.bytes, quote);
      const IcmpErrorMessage message = icmp_error_message(pkt.data);
      h.answer.extensions = decode_icmp_extensions(message.message.data(), message.message.size(), message.v6);
    } else if (*h.answer.router != d->src &&
               std::find(h.other_routers.begin(), h.other_routers.end(), d->src) == h.other_routers.end()) {
      h.other_routers.push_back(d->src);
    }
    if ((trace.complete = all_in())) break;
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
    trace.destination_hop = last + 1;
    shown = last;
  }
  hops.resize(size_t(shown));
  // Every TTL past the destination's distance reaches it, so which probe it answered first is
  // not known: the RTT is taken from the first probe of the first TTL that reached it.
  if (destination_at && trace.destination_hop > 0)
    for (const auto& [probe_id, p] : probes)
      if (p.hop == trace.destination_hop) {
        TimestampSource source = TimestampSource::kernel;
        trace.destination_rtt_ns = rtt_of(p, *destination_at, source);
        break;
      }
  std::vector<HopAnswer> answers;
  answers.reserve(hops.size());
  for (const HopResult& h : hops) answers.push_back(h.answer);
  trace.summary = summarize_path(answers, trace.destination);
  trace.hops = std::move(hops);
  return trace;
}

}  // namespace tcpkit
