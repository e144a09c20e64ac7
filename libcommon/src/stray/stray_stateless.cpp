#include "tcpkit/stray/stray_stateless.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tcpkit/io/capture.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/neighbours.hpp"

namespace tcpkit {

namespace {

using Clock = std::chrono::steady_clock;
// Once an answer came, segments that follow it this soon still belong to the case.
constexpr auto kGrace = std::chrono::milliseconds(50);

struct CaseSegment {
  uint8_t flags;
  bool random_ack;
};

CaseSegment segment_for(StrayCase id) {
  using namespace tcp_flag;
  switch (id) {
    case StrayCase::closed_fin:
    case StrayCase::listen_fin: return {fin, false};
    case StrayCase::closed_ack:
    case StrayCase::listen_ack: return {ack, true};
    case StrayCase::closed_null:
    case StrayCase::listen_null: return {0, false};
    case StrayCase::closed_xmas:
    case StrayCase::listen_xmas: return {uint8_t(fin | psh | urg), false};
    case StrayCase::closed_syn_fin: return {uint8_t(syn | fin), false};
    default: return {rst, false};
  }
}

StraySegment from_packet(const DecodedPacket& d, bool outbound, int64_t time_ns, const IpAddress& target) {
  StraySegment s;
  s.outbound = outbound;
  s.time_ns = time_ns;
  s.ttl = d.ttl;
  if (d.kind == DecodedPacket::Kind::icmp_error) {
    s.icmp = true;
    s.icmp_text = d.icmp.description();
    s.icmp_meaning = icmp_meaning(d.icmp.v6, d.icmp.type, d.icmp.code, d.src == target);
    return s;
  }
  s.flags = d.tcp.flags;
  s.seq = d.tcp.seq;
  s.ack = d.tcp.ack;
  s.window = d.tcp.window;
  s.payload_length = d.tcp.payload_length;
  return s;
}

// Whether a segment from the target's port can answer the probe: its numbers must come from
// ours. One with ACK acks something from our seq to seq + length (a stack may ack the SYN of a
// SYN|FIN and not the FIN); one without may take our ack as its seq (RFC 9293's reset to a
// segment with ACK), or be an RST with seq 0. Anything else (random numbers) is not an answer
// to this probe, whoever sent it.
std::optional<RejectReason> unrelated(const DecodedTcp& t, const StrayProbe& p) {
  if (t.flags & tcp_flag::ack) {
    const uint32_t end = p.seq + p.sequence_length();
    return seq_ge(t.ack, p.seq) && seq_le(t.ack, end) ? std::nullopt : std::optional(RejectReason::wrong_ack);
  }
  if ((p.flags & tcp_flag::ack) && t.seq == p.ack) return std::nullopt;
  if ((t.flags & tcp_flag::rst) && t.seq == 0) return std::nullopt;
  return RejectReason::wrong_seq;
}

bool same_answer(const StraySegment& a, const StraySegment& b) {
  return !a.icmp && !b.icmp && a.flags == b.flags && a.seq == b.seq && a.ack == b.ack && a.window == b.window &&
         a.payload_length == b.payload_length;
}

// Both ways between the two ports, and whatever comes to our port from the target's port from
// another address (rejected, and counted).
std::string capture_filter(const StrayTarget& t, uint16_t sport, uint16_t dport) {
  const IpAddress& us = t.route.source;
  const std::string icmp = t.address.is_v4() ? "icmp" : "icmp6";
  const std::string dp = std::to_string(dport), sp = std::to_string(sport);
  return "(tcp and ((host " + t.address.to_string() + " and port " + dp + " and port " + sp + ") or (dst host " +
         us.to_string() + " and dst port " + sp + " and src port " + dp + "))) or (" + icmp + " and dst host " +
         us.to_string() + ")";
}

// Our crafted segment as -v shows it; its time is the kernel's once the capture sees it.
StraySegment sent_segment(const SegmentSpec& spec) {
  StraySegment out;
  out.outbound = out.crafted = true;
  out.time_ns = realtime_ns();
  out.flags = spec.flags;
  out.seq = spec.seq;
  out.ack = spec.ack;
  out.window = spec.window;
  return out;
}

// Sorts the captured packets of one case: our own segments, answers, and what is rejected.
struct CaseWait {
  const IpAddress& us;
  const IpAddress& them;
  uint16_t sport, dport;
  StrayRun& run;
  StraySegment& out;
  bool own_copy_seen = false;

  // Whether the packet may answer the probe; everything else is noted or counted here.
  bool candidate(const CapturedPacket& packet, const DecodedPacket& decoded) {
    if (decoded.kind == DecodedPacket::Kind::tcp) return tcp_candidate(packet, decoded);
    if (decoded.kind == DecodedPacket::Kind::icmp_error) return icmp_candidate(packet, decoded.icmp.quoted);
    return false;
  }

  bool tcp_candidate(const CapturedPacket& packet, const DecodedPacket& decoded) {
    const DecodedTcp& tcp = decoded.tcp;
    const bool ours = decoded.src == us && decoded.dst == them && tcp.sport == sport && tcp.dport == dport;
    const bool theirs = decoded.src == them && decoded.dst == us && tcp.sport == dport && tcp.dport == sport;
    if (ours && !own_copy_seen && tcp.seq == out.seq && tcp.flags == out.flags) {
      out.time_ns = packet.time_ns;  // the kernel's timestamp of our own segment
      own_copy_seen = true;
      return false;
    }
    if (ours) {
      run.segments.push_back(from_packet(decoded, true, packet.time_ns, them));
      return false;
    }
    if (packet.outgoing || decoded.dst != us || tcp.dport != sport || tcp.sport != dport) return false;
    if (!theirs) {
      run.seen.rejected.add(RejectReason::wrong_address);
      return false;
    }
    if (const auto why = unrelated(tcp, run.probe)) {
      run.seen.rejected.add(*why);
      return false;
    }
    return true;
  }

  bool icmp_candidate(const CapturedPacket& packet, const QuotedDatagram& q) {
    if (packet.outgoing || q.protocol != IPPROTO_TCP || !q.ports_known || q.src != us) return false;
    const bool exact = q.sport == sport && q.dst == them && q.dport == dport && q.seq == run.probe.seq;
    if (!exact) {
      // About our port or the target's port, but not our segment: someone else's quote.
      if (q.sport == sport || (q.dst == them && q.dport == dport)) run.seen.rejected.add(RejectReason::wrong_quote);
      return false;
    }
    return true;
  }

  // Keeps a new answer; false for a copy of one already kept.
  bool add_answer(const StraySegment& answer) {
    const auto copy = std::find_if(run.seen.answers.begin(), run.seen.answers.end(),
                                   [&](const StraySegment& a) { return same_answer(a, answer); });
    if (copy != run.seen.answers.end()) {
      ++run.seen.duplicates;  // the same answer again: a network copy, or our segment was copied
      return false;
    }
    run.seen.answers.push_back(answer);
    run.segments.push_back(answer);
    return true;
  }
};

// Fills the probe's flags and numbers and the -v text of what is sent.
void aim_probe(StrayRun& run, CaseSegment shape, uint16_t dport) {
  run.probe.flags = shape.flags;
  run.probe.seq = stray_random32();
  run.probe.ack = shape.random_ack ? stray_random32() : 0;
  run.sent = flags_compact(shape.flags) + " seq=" + std::to_string(run.probe.seq) +
             (shape.random_ack ? " ack=" + std::to_string(run.probe.ack) : "") + " to port " + std::to_string(dport);
}

// One segment of `shape` to `dport` from a reserved port, and what came back, as case `id`.
Result<StrayRun> run_segment(StrayCase id, CaseSegment shape, uint16_t dport, const StrayTarget& t, RawSender& sender,
                             int cancel_fd) {
  const IpAddress& us = t.route.source;
  auto reserved = reserve_port(us);  // held until the case is over
  if (!reserved) return tl::unexpected(reserved.error());
  const uint16_t sport = reserved->port;

  CaptureOptions options;
  options.interface = t.route.interface;
  options.filter = capture_filter(t, sport, dport);
  auto capture = Capture::open(options);
  if (!capture) return tl::unexpected(capture.error());

  StrayRun run;
  run.id = id;
  run.local_port = sport;
  aim_probe(run, shape, dport);
  auto spec = send_stray_segment(sender, us, sport, t.address, dport, run.probe.flags, run.probe.seq, run.probe.ack);
  if (!spec) return tl::unexpected(spec.error());
  StraySegment out = sent_segment(*spec);
  CaseWait wait{us, t.address, sport, dport, run, out};

  auto deadline = Clock::now() + t.timeout;
  while (true) {
    auto packet = capture->next(deadline, cancel_fd);
    if (!packet) return tl::unexpected(packet.error());
    if (!*packet) break;  // deadline or Ctrl-C
    const auto decoded = decode_packet((*packet)->data.data(), (*packet)->data.size());
    if (!decoded || !wait.candidate(**packet, *decoded)) continue;
    if (!wait.add_answer(from_packet(*decoded, false, (*packet)->time_ns, t.address))) continue;
    // An answer came: what follows within the grace period belongs to it too.
    deadline = std::min(deadline, Clock::now() + kGrace);
  }
  run.segments.insert(run.segments.begin(), out);
  run.seen.capture_drops = capture->stats().dropped;
  run.seen.rejected.add(RejectReason::bad_checksum, capture->bad_checksums());
  run.seen.rejected.add(RejectReason::unverifiable, capture->unverifiable());
  run.rejected = run.seen.rejected;  // the wait is the whole case
  return run;
}

}  // namespace

Result<StrayRun> run_stateless_case(StrayCase id, const StrayTarget& t, RawSender& sender, int cancel_fd) {
  const auto& info = stray_case_info(id);
  if (info.group != StrayGroup::closed && info.group != StrayGroup::listen)
    return fail(ErrorCode::bad_input, std::string(info.name) + " is not a closed- or listening-port case");
  const uint16_t dport = info.group == StrayGroup::closed ? t.closed_port : t.port;
  return run_segment(id, segment_for(id), dport, t, sender, cancel_fd);
}

Result<StrayRun> run_listener_fin_ack(const StrayTarget& t, RawSender& sender, int cancel_fd) {
  using namespace tcp_flag;
  return run_segment(StrayCase::listen_ack, {uint8_t(fin | ack), true}, t.port, t, sender, cancel_fd);
}

namespace {

// The TTL (hop limit) of the SYN/ACK to our socket `fd` in the capture, 0 when none is there.
uint8_t synack_ttl(Capture& capture, const StrayTarget& t, uint16_t port, int fd) {
  const auto ours = local_port(fd);
  if (!ours) return 0;
  const auto until = Clock::now() + kGrace;  // it came before connect() finished: it is queued
  while (true) {
    auto packet = capture.next(until);
    if (!packet || !*packet) return 0;
    const auto d = decode_packet((*packet)->data.data(), (*packet)->data.size());
    if (d && d->kind == DecodedPacket::Kind::tcp && d->src == t.address && d->tcp.sport == port &&
        d->tcp.dport == *ours && (d->tcp.flags & (tcp_flag::syn | tcp_flag::ack)) == (tcp_flag::syn | tcp_flag::ack))
      return d->ttl;
  }
}

// Whether `port` accepts a kernel connect() within the timeout: nullopt when it does, else why
// not. With `ttl`, the SYN/ACK's TTL is captured into it (0: not seen).
Result<std::optional<std::string>> try_connect(const StrayTarget& t, uint16_t port, int cancel_fd,
                                               uint8_t* ttl = nullptr) {
  std::optional<Capture> capture;
  if (ttl) {
    CaptureOptions options;
    options.interface = t.route.interface;
    options.include_outgoing = false;
    options.filter = "tcp and src host " + t.address.to_string() + " and src port " + std::to_string(port);
    auto opened = Capture::open(options);
    if (!opened) return tl::unexpected(opened.error());
    capture.emplace(std::move(*opened));
  }
  const UniqueFd s(::socket(t.address.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.valid()) return fail_errno("TCP socket", errno);
  // Closed with an RST: neither side keeps TIME_WAIT or CLOSE_WAIT for a mere check.
  linger abort{1, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  if (t.bind_interface)
    ::setsockopt(s.get(), SOL_SOCKET, SO_BINDTODEVICE, t.route.interface.c_str(), socklen_t(t.route.interface.size()));
  socklen_t length = 0;
  sockaddr_storage address = t.address.to_sockaddr(port, &length);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&address), length) == 0) {
    if (capture) *ttl = synack_ttl(*capture, t, port, s.get());
    return std::optional<std::string>();
  }
  if (errno != EINPROGRESS)
    return std::optional<std::string>("port " + std::to_string(port) + " does not accept connections: " + std::strerror(errno));
  const auto deadline = Clock::now() + std::max(t.timeout, t.handshake_timeout);  // a lost SYN is sent again
  pollfd fds[2] = {{s.get(), POLLOUT, 0}, {cancel_fd, POLLIN, 0}};
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::optional<std::string>("port " + std::to_string(port) + " did not answer a connect() in time");
    const int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, int(left) + 1);
    if (n < 0 && errno != EINTR) return fail_errno("poll", errno);
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) return std::optional<std::string>("interrupted");
    if (n > 0 && fds[0].revents) break;
  }
  int error = 0;
  socklen_t error_length = sizeof error;
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &error_length);
  if (error) return std::optional<std::string>("port " + std::to_string(port) + " does not accept connections: " + std::strerror(error));
  if (capture) *ttl = synack_ttl(*capture, t, port, s.get());
  return std::optional<std::string>();
}

}  // namespace

Result<std::optional<std::string>> check_listening(const StrayTarget& t, int cancel_fd, uint8_t* ttl) {
  return try_connect(t, t.port, cancel_fd, ttl);
}

Result<std::optional<std::string>> check_closed(const StrayTarget& t, int cancel_fd) {
  auto refused = try_connect(t, t.closed_port, cancel_fd);
  if (!refused) return tl::unexpected(refused.error());
  if (*refused) return std::optional<std::string>();  // refused, filtered or interrupted: the cases tell which
  return std::optional<std::string>("port " + std::to_string(t.closed_port) +
                                    " is listening: the closed group needs a port nothing listens on (--closed-port)");
}

std::string unresolved_neighbour_note(const StrayTarget& t) {
  if (!next_hop_unresolved(t.route, t.address)) return "";
  return unanswered_next_hop(t.route, t.address) + " (its neighbour entry did not resolve): nothing reached a TCP stack";
}

}  // namespace tcpkit
