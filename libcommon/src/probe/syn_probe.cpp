#include "tcpkit/probe/syn_probe.hpp"

#include "tcpkit/io/neighbours.hpp"

#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tcpkit/io/local_port.hpp"

namespace tcpkit {

struct SynProber::Pending {
  uint64_t probe_id = 0;
  uint16_t sport = 0;
  uint32_t isn = 0;
  uint16_t ip_id = 0;                 // IPv4: what a quote is paired by when a middlebox
  std::optional<uint32_t> tsval;      // rewrote its seq or port (and, either family, the TSval)
  UniqueFd reservation;      // a bound TCP socket holding the source port for us
  int64_t user_sent_ns = 0;
  std::optional<uint32_t> tx_key;            // the key of the SYN's kernel send timestamp
  std::optional<int64_t> tx_sent_ns;    // the driver's send stamp
  std::optional<int64_t> tap_sent_ns;   // our SYN seen leaving at the packet tap
  std::optional<int64_t> kernel_sent_ns() const { return tx_sent_ns ? tx_sent_ns : tap_sent_ns; }
  std::chrono::steady_clock::time_point sent_at;  // when send() handed it to the kernel
  std::chrono::steady_clock::duration timeout{};  // the answer's wait, from the SYN's leaving
  std::chrono::steady_clock::time_point deadline;
  bool held_for_departure = false;  // its wait ran out before it left: given the neighbour's time
};

namespace {

uint64_t random_seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = uint64_t(realtime_ns());
  return seed | 1;
}

uint64_t next_random(uint64_t& state) {  // xorshift64*: fast, good enough for ISNs
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

// A bare RST or a split handshake's SYN: an answer whose ack field names no ISN of ours, taken
// only when one probe has its 4-tuple.
bool names_no_probe(uint8_t flags) {
  const bool bare_rst = (flags & tcp_flag::rst) && !(flags & tcp_flag::ack);
  return bare_rst || is_split_handshake(flags);
}

}  // namespace

std::optional<size_t> match_syn_answer(const DecodedPacket& d, const IpAddress& source, const IpAddress& destination,
                                       uint16_t port, const std::vector<PendingSyn>& pending) {
  if (d.kind != DecodedPacket::Kind::tcp) return std::nullopt;
  const DecodedTcp& t = d.tcp;
  if (d.src != destination || d.dst != source || t.sport != port) return std::nullopt;
  std::optional<size_t> same_tuple;
  size_t tuples = 0;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].sport != t.dport) continue;
    if (t.ack == pending[i].isn + 1 && ((t.flags & tcp_flag::ack) || (t.flags & tcp_flag::rst))) return i;
    ++tuples;
    same_tuple = i;
  }
  if (names_no_probe(t.flags) && tuples == 1) return same_tuple;
  return std::nullopt;
}

SynProber::SynProber(SynProbeConfig config, RawSender sender, Capture capture)
    : config_(std::move(config)), sender_(std::move(sender)), capture_(std::move(capture)), rng_state_(random_seed()) {}
SynProber::SynProber(SynProber&&) noexcept = default;
SynProber& SynProber::operator=(SynProber&&) noexcept = default;
SynProber::~SynProber() = default;

Result<SynProber> SynProber::open(const SynProbeConfig& config) {
  const IpAddress& d = config.destination;
  const IpAddress& s = config.route.source;
  if (d.family() != s.family()) return fail(ErrorCode::bad_input, "source and destination families differ");
  auto sender = RawSender::open(d.family(), config.bind_interface ? config.route.interface : "");
  if (!sender) return tl::unexpected(sender.error());
  // Only our 4-tuple's TCP and ICMP errors addressed to us are queued.
  const std::string icmp = d.is_v4() ? "icmp" : "icmp6";
  CaptureOptions options;
  options.interface = config.route.interface;
  // Our SYNs out; what comes to us from the target's port, from any address (a reply from
  // the wrong one is rejected, and counted); ICMP errors to us.
  const std::string port = std::to_string(config.port);
  options.filter = "(tcp and src host " + s.to_string() + " and dst host " + d.to_string() + " and dst port " + port +
                   ") or (tcp and dst host " + s.to_string() + " and src port " + port + ") or (" + icmp +
                   " and dst host " + s.to_string() + ")";
  // IPv6 + ICMPv6 + the quoted IPv6 header + a TCP header with the most options is 148 bytes.
  constexpr uint32_t kSnapBytes = 256;
  options.snaplen = kSnapBytes;
  // The driver's send timestamp is the better start: it is taken as the SYN reaches the
  // device. Until the first one arrives (not every driver gives them), our SYN's stamp at the
  // packet tap is the fallback.
  sender->enable_tx_timestamps();
  auto capture = Capture::open(options);
  if (!capture) return tl::unexpected(capture.error());
  return SynProber(config, std::move(*sender), std::move(*capture));
}

Result<void> SynProber::send(uint64_t probe_id, std::chrono::steady_clock::time_point deadline) {
  auto pending = std::make_unique<Pending>();
  pending->probe_id = probe_id;
  pending->deadline = deadline;
  pending->sent_at = std::chrono::steady_clock::now();
  pending->timeout = deadline - pending->sent_at;
  if (config_.source_port) {
    pending->sport = *config_.source_port;
  } else {
    // A link-local source is bound on its interface (scope_id), or the kernel refuses it.
    const IpAddress& source = config_.route.source;
    auto reserved = reserve_port(source, source.is_link_local() ? uint32_t(config_.route.interface_index) : 0u);
    if (!reserved) return tl::unexpected(reserved.error());
    pending->reservation = std::move(reserved->holder);
    pending->sport = reserved->port;
  }
  do {
    pending->isn = uint32_t(next_random(rng_state_));
  } while (pending_.count(pending->isn) || finished_.count(pending->isn));

  SegmentSpec spec;
  spec.src = config_.route.source;
  spec.dst = config_.destination;
  spec.sport = pending->sport;
  spec.dport = config_.port;
  spec.seq = pending->isn;
  spec.flags = tcp_flag::syn;
  spec.window = config_.window;
  spec.options = config_.syn_options;
  if (const auto ts = spec.options.timestamps()) {
    pending->tsval = uint32_t(next_random(rng_state_));
    spec.options.set_timestamps(*pending->tsval, ts->second);
  }
  spec.ttl = config_.ttl;
  spec.ip_id = pending->ip_id = uint16_t(next_random(rng_state_));
  auto packet = craft_segment(spec);
  if (!packet) return tl::unexpected(packet.error());
  auto sent = sender_.send(*packet, config_.destination);
  if (!sent) return tl::unexpected(sent.error());
  pending->user_sent_ns = *sent;
  // Read after the send: a failed attempt before it restarts the keys.
  if (sender_.tx_timestamps()) pending->tx_key = sender_.last_tx_key();
  use_port(pending->sport, +1);
  pending_.emplace(pending->isn, std::move(pending));
  return {};
}

void SynProber::take_send_stamps() {
  if (!sender_.tx_timestamps()) return;
  for (const auto& stamp : sender_.take_tx_stamps()) {
    for (auto& [isn, p] : pending_) {
      // A stamp before our send began cannot be this SYN's (keys restart after a failed send).
      if (p->tx_key == stamp.key && !p->tx_sent_ns && stamp.time_ns >= p->user_sent_ns) {
        p->tx_sent_ns = stamp.time_ns;
        tx_stamps_seen_ = true;
        left_at(*p, stamp.time_ns);
        // The driver stamps: stop copying our own SYNs to the capture, which is work on
        // the path every later SYN travels.
        capture_.ignore_outgoing();
        break;
      }
    }
  }
}

namespace {
// How long and how many reported probes are remembered to tell duplicates and late answers
// from forgeries: Linux repeats an unanswered SYN/ACK for about a minute.
constexpr int64_t kRememberNs = 75'000'000'000;
constexpr size_t kRememberMax = 65536;
}  // namespace

bool SynProber::our_port(uint16_t port) const {
  if (config_.source_port) return port == *config_.source_port;
  return port_uses_.count(port) > 0;
}

void SynProber::use_port(uint16_t port, int delta) {
  auto& uses = port_uses_[port];
  uses = uint32_t(int64_t(uses) + delta);
  if (uses == 0) port_uses_.erase(port);
}

void SynProber::remember(uint32_t isn, const Pending& p, ProbeOutcome outcome) {
  const int64_t now = realtime_ns();
  while (!finished_order_.empty() &&
         (finished_order_.size() >= kRememberMax || now - finished_.at(finished_order_.front()).finished_ns > kRememberNs)) {
    use_port(finished_.at(finished_order_.front()).sport, -1);
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
  const auto sent = p.kernel_sent_ns();
  if (finished_.emplace(isn, Finished{p.probe_id, p.sport, sent.value_or(p.user_sent_ns), outcome, std::nullopt, sent.has_value(), now})
          .second) {
    finished_order_.push_back(isn);
    use_port(p.sport, +1);
  }
}

// The reported probe a segment repeats the answer of (same rule as match_syn_answer), if any.
std::optional<uint32_t> SynProber::reported_match(const DecodedTcp& t) const {
  if (auto it = finished_.find(t.ack - 1); it != finished_.end() && it->second.sport == t.dport) return it->first;
  if (!names_no_probe(t.flags)) return std::nullopt;
  // A bare RST, or a split handshake's SYN sent again: only when one reported probe has its
  // 4-tuple (found: the repeated SYN counted as a wrong ack).
  std::optional<uint32_t> only;
  for (const auto& [isn, f] : finished_) {
    if (f.sport != t.dport) continue;
    if (only) return std::nullopt;
    only = isn;
  }
  return only;
}

void SynProber::finish(uint32_t isn, const CapturedPacket& packet, ProbeReply reply, std::vector<ProbeReply>& done) {
  auto it = pending_.find(isn);
  const Pending& p = *it->second;
  reply.probe_id = p.probe_id;
  reply.source_port = p.sport;
  reply.isn = p.isn;
  reply.sent_ns = p.kernel_sent_ns().value_or(p.user_sent_ns);
  const bool both_kernel = p.kernel_sent_ns() && packet.source == TimestampSource::kernel;
  reply.timestamps = both_kernel ? TimestampSource::kernel : TimestampSource::user;
  reply.rtt_ns = packet.time_ns - reply.sent_ns;
  if (reply.outcome == ProbeOutcome::open && is_syn_ack(reply.flags))
    reply.syn_ack_resent_after_s = resent_.sent_again(*reply.rtt_ns).value_or(0);
  remember(isn, p, reply.outcome);
  use_port(p.sport, -1);
  pending_.erase(it);
  done.push_back(std::move(reply));
}

// A later answer to a reported probe: a duplicate or a conflicting answer (returned, marked) or
// a late answer (counted).
void SynProber::again(uint32_t isn, const CapturedPacket& packet, ProbeReply reply, std::vector<ProbeReply>& done) {
  Finished& f = finished_.at(isn);
  if (f.outcome == ProbeOutcome::filtered) {
    ++late_;
    return;
  }
  reply.duplicate = true;
  if (reply.outcome == f.outcome || reply.outcome == f.other) {
    ++duplicates_;  // a copy of the first answer, or of the one that disagreed with it
  } else {
    if (!f.other) ++conflicting_;
    f.other = reply.outcome;
    reply.conflicts_with = f.outcome;
  }
  reply.probe_id = f.probe_id;
  reply.source_port = f.sport;
  reply.isn = isn;
  reply.sent_ns = f.sent_ns;
  reply.timestamps = f.kernel_sent && packet.source == TimestampSource::kernel ? TimestampSource::kernel : TimestampSource::user;
  reply.rtt_ns = packet.time_ns - f.sent_ns;
  done.push_back(std::move(reply));
}

void SynProber::handle_tcp(const DecodedPacket& d, const CapturedPacket& packet, std::vector<ProbeReply>& done) {
  const IpAddress& us = config_.route.source;
  const IpAddress& them = config_.destination;
  const DecodedTcp& t = d.tcp;
  if (packet.outgoing) {
    // Our own SYN leaving: its kernel timestamp starts the clock.
    if (d.src != us || d.dst != them || t.dport != config_.port || t.flags != tcp_flag::syn) return;
    auto it = pending_.find(t.seq);
    if (it != pending_.end() && it->second->sport == t.sport && !it->second->tap_sent_ns) {
      it->second->tap_sent_ns = packet.time_ns;
      left_at(*it->second, packet.time_ns);
    }
    return;
  }
  if (d.dst != us || t.sport != config_.port || !our_port(t.dport)) return;  // another connection's
  if (d.src != them) {
    rejects_.add(RejectReason::wrong_address);
    return;
  }
  ProbeReply reply;
  reply.responder = them;
  reply.ttl = d.ttl;
  reply.window = t.window;
  reply.flags = t.flags;
  reply.options = t.options;
  const bool synack = is_syn_ack(t.flags);
  const bool rst = t.flags & tcp_flag::rst;
  // A bare SYN (split handshake): the peer opens towards us instead of answering; a listener
  // all the same, as nmap reads it (found taken for a forgery, and the port for filtered).
  const bool split = is_split_handshake(t.flags);
  reply.outcome = synack || split ? ProbeOutcome::open : ProbeOutcome::closed;
  reply.split_handshake = split;

  std::vector<PendingSyn> candidates;
  candidates.reserve(pending_.size());
  for (const auto& [isn, p] : pending_) candidates.push_back(PendingSyn{p->sport, isn});
  if (const auto match = match_syn_answer(d, us, them, config_.port, candidates); match && (synack || rst || split)) {
    if (synack && config_.send_reset) send_reset(t.dport, t.ack);
    finish(candidates[*match].isn, packet, std::move(reply), done);
    return;
  }
  if (const auto isn = (synack || rst || split) ? reported_match(t) : std::nullopt) {
    again(*isn, packet, std::move(reply), done);
    return;
  }
  if (rst && !(t.flags & tcp_flag::ack)) {
    ++unmatched_rsts_;  // names no single probe: not an answer, and no proof of forgery
    return;
  }
  if (held_connection_answer(d, packet, reply, done)) return;
  rejects_.add(RejectReason::wrong_ack);
}

// Our RST for the connection a probe's SYN opened at the peer (seq: our ISN+1), so that nothing
// stays half-open there.
void SynProber::send_reset(uint16_t our_port, uint32_t seq) {
  SegmentSpec reset;
  reset.src = config_.route.source;
  reset.dst = config_.destination;
  reset.sport = our_port;
  reset.dport = config_.port;
  reset.seq = seq;
  reset.flags = tcp_flag::rst;
  reset.window = 0;
  reset.ttl = config_.ttl;
  if (auto bytes = craft_segment(reset)) (void)sender_.send(*bytes, config_.destination);
}

// A pure ACK of an earlier probe's SYN (its ISN+1), on the port pair a probe now waits on (-s
// gives every probe the same one; the kernel may give a port out again): the peer still holds
// that probe's connection, half-open since our RST never reached it (a firewall that drops
// RSTs) or since its SYN/ACK never reached us, so that we sent none (found: both, the second
// blamed on dropped RSTs, and with -s, the earlier probe still waiting, taken for a wrong ack).
// It answers the new SYN on the same 4-tuple with an ACK (RFC 9293 3.10.7.4; a Linux
// listener's request socket does so). A listener holds it: the waiting probe's answer is
// "open". It was taken for a forgery (wrong ack), and the port for filtered.
bool SynProber::held_connection_answer(const DecodedPacket& d, const CapturedPacket& packet, ProbeReply& reply,
                                       std::vector<ProbeReply>& done) {
  const DecodedTcp& t = d.tcp;
  constexpr uint8_t kNotPure = tcp_flag::syn | tcp_flag::rst | tcp_flag::fin;
  if (!(t.flags & tcp_flag::ack) || (t.flags & kNotPure) || t.payload_length) return false;
  const uint32_t held_isn = t.ack - 1;
  uint64_t held_id = 0;
  bool unanswered = true;  // no SYN/ACK of it came: still waiting, or reported without one
  const Pending* still_waiting = nullptr;
  if (const auto f = finished_.find(held_isn); f != finished_.end() && f->second.sport == t.dport) {
    held_id = f->second.probe_id;
    unanswered = f->second.outcome != ProbeOutcome::open;
  } else if (const auto p = pending_.find(held_isn); p != pending_.end() && p->second->sport == t.dport) {
    held_id = p->second->probe_id;
    still_waiting = p->second.get();
  } else {
    return false;
  }
  std::optional<uint32_t> waiting;
  for (const auto& [isn, p] : pending_) {
    if (p->sport != t.dport || isn == held_isn) continue;
    if (waiting) return false;  // two probes wait on that pair: it names neither
    waiting = isn;
  }
  if (!waiting) return false;
  // Once more, though a firewall may drop it again (and our kernel resets it too, from the port
  // it holds: the connection is gone either way).
  if (config_.send_reset) send_reset(t.dport, t.ack);
  reply.outcome = ProbeOutcome::open;
  reply.held_by = held_id;
  reply.held_unanswered = unanswered;
  const uint64_t waiting_id = pending_.at(*waiting)->probe_id;
  ProbeReply held_open = reply;  // the same segment shows the held probe's SYN taken by a listener
  finish(*waiting, packet, std::move(reply), done);
  if (still_waiting) {
    // Found: reported filtered, though the ACK proved its SYN reached a listener; no SYN/ACK of
    // it came, so it has no round trip.
    held_open.held_by.reset();
    held_open.held_unanswered = false;
    held_open.shown_open_by = waiting_id;
    held_open.options = TcpOptions{};  // the ACK's, not a SYN/ACK's
    finish(held_isn, packet, std::move(held_open), done);
    done.back().rtt_ns.reset();
  }
  return true;
}

void SynProber::handle_icmp(const DecodedPacket& d, const CapturedPacket& packet, std::vector<ProbeReply>& done) {
  const IpAddress& us = config_.route.source;
  const IpAddress& them = config_.destination;
  const QuotedDatagram& q = d.icmp.quoted;
  if (packet.outgoing || q.protocol != 6 || !q.ports_known || q.src != us) return;
  const bool exact_target = q.dst == them && q.dport == config_.port;
  if (!exact_target && !our_port(q.sport)) return;  // about another connection of this host
  ProbeReply reply;
  reply.outcome = ProbeOutcome::unreachable;
  reply.responder = d.src;
  reply.ttl = d.ttl;
  reply.icmp_v6 = d.icmp.v6;
  reply.icmp_type = d.icmp.type;
  reply.icmp_code = d.icmp.code;
  reply.icmp_text = d.icmp.description();
  if (exact_target && q.seq) {
    if (auto it = pending_.find(*q.seq); it != pending_.end() && it->second->sport == q.sport) {
      finish(*q.seq, packet, std::move(reply), done);
      return;
    }
  }
  // A router past a middlebox that rewrote the seq or the source port quotes the rewritten SYN:
  // paired by what such middleboxes leave alone, the IPv4 ID and the TSval together (each random
  // per probe), when the quote is to our target. Before, that router's answer was rejected and
  // the probe reported filtered (tcpprobe --ttl behind such a middlebox).
  if (q.dst == them && q.dport == config_.port) {
    for (const auto& [isn, p] : pending_) {
      // IPv4: the ID, and the TSval too when the probe carries one (a quote too short to hold
      // it does not pair: 16 bits alone are too easily hit); IPv6 (no ID): the TSval.
      const bool ts_ok = p->tsval ? q.tsval && *q.tsval == *p->tsval : !d.icmp.v6;
      const bool id_ok = d.icmp.v6 || (q.ip_id && *q.ip_id == p->ip_id);
      if (id_ok && ts_ok) {
        reply.quote_rewritten = true;
        finish(isn, packet, std::move(reply), done);
        return;
      }
    }
  }
  if (exact_target && q.seq) {
    if (auto it = finished_.find(*q.seq); it != finished_.end() && it->second.sport == q.sport) {
      again(*q.seq, packet, std::move(reply), done);
      return;
    }
  }
  rejects_.add(RejectReason::wrong_quote);
}

void SynProber::handle(const CapturedPacket& packet, std::vector<ProbeReply>& done) {
  const auto decoded = decode_packet(packet.data.data(), packet.data.size());
  if (!decoded) return;
  if (decoded->kind == DecodedPacket::Kind::tcp) handle_tcp(*decoded, packet, done);
  else if (decoded->kind == DecodedPacket::Kind::icmp_error) handle_icmp(*decoded, packet, done);
}

RejectCounts SynProber::rejected() const {
  RejectCounts counts = rejects_;
  counts.add(RejectReason::bad_checksum, capture_.bad_checksums());
  counts.add(RejectReason::unverifiable, capture_.unverifiable());
  return counts;
}

uint64_t SynProber::capture_drops() {
  capture_drops_ += capture_.stats().dropped;  // the kernel's counters reset on each read
  return capture_drops_;
}

// A SYN that waited for the next hop's ARP or ND answer leaves late, and its answer comes late:
// the wait runs from its leaving (found: a target whose link-local address was still tentative
// answered at once, 2 s after the send, and read filtered).
void SynProber::left_at(Pending& p, int64_t departed_ns) {
  const int64_t held_ns = departed_ns - p.user_sent_ns;
  if (held_ns > 0) p.deadline = std::max(p.deadline, p.sent_at + std::chrono::nanoseconds(held_ns) + p.timeout);
}

bool SynProber::departures_visible() const { return capture_.sees_outgoing() || tx_stamps_seen_; }

// No sign of the SYN leaving is no proof (a send stamp may be lost): the next hop's neighbour
// entry must say it was asked and never answered, too.
bool SynProber::next_hop_unresolved() const { return tcpkit::next_hop_unresolved(config_.route, config_.destination); }

void SynProber::expire(std::chrono::steady_clock::time_point now, std::vector<ProbeReply>& done) {
  // How long a SYN may wait for the next hop's ARP or ND answer before the kernel gives up:
  // three solicitations a second apart, and a little more.
  constexpr auto kNeighbourWait = std::chrono::milliseconds(3500);
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = *it->second;
    if (p.deadline > now) {
      ++it;
      continue;
    }
    const bool not_seen_leaving = !p.kernel_sent_ns() && departures_visible();
    if (not_seen_leaving && !p.held_for_departure) {
      p.held_for_departure = true;
      p.deadline = std::max(p.deadline, p.sent_at + kNeighbourWait);
      if (p.deadline > now) {
        ++it;
        continue;
      }
    }
    ProbeReply reply;
    reply.unsent = not_seen_leaving && next_hop_unresolved();
    reply.probe_id = it->second->probe_id;
    reply.outcome = ProbeOutcome::filtered;
    reply.responder = config_.destination;
    reply.source_port = it->second->sport;
    reply.isn = it->second->isn;
    reply.sent_ns = it->second->kernel_sent_ns().value_or(it->second->user_sent_ns);
    done.push_back(std::move(reply));
    remember(it->first, *it->second, ProbeOutcome::filtered);
    use_port(it->second->sport, -1);
    it = pending_.erase(it);
  }
}

Result<std::vector<ProbeReply>> SynProber::collect(std::chrono::steady_clock::time_point until, int cancel_fd) {
  std::vector<ProbeReply> done;
  for (;;) {
    auto wait_until = until;
    for (const auto& [isn, p] : pending_) wait_until = std::min(wait_until, p->deadline);
    auto packet = capture_.next(wait_until, cancel_fd);
    if (!packet) return tl::unexpected(packet.error());
    take_send_stamps();
    if (*packet) handle(**packet, done);
    // Drain what is already queued before judging deadlines: an answer that arrived in time
    // is never reported as filtered because we were slow to read it.
    for (;;) {
      auto more = capture_.poll_now();
      if (!more) return tl::unexpected(more.error());
      if (!*more) break;
      handle(**more, done);
    }
    const auto now = std::chrono::steady_clock::now();
    expire(now, done);
    if (!done.empty() || now >= until) return done;
    if (!*packet && now < wait_until) return done;  // cancelled: next() returned early
  }
}

}  // namespace tcpkit
