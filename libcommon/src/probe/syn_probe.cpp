#include "tcpkit/probe/syn_probe.hpp"

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
  UniqueFd reservation;      // a bound TCP socket holding the source port for us
  int64_t user_sent_ns = 0;
  std::optional<uint32_t> tx_key;            // the key of the SYN's kernel send timestamp
  std::optional<int64_t> tx_sent_ns;    // the driver's send stamp
  std::optional<int64_t> tap_sent_ns;   // our SYN seen leaving at the packet tap
  std::optional<int64_t> kernel_sent_ns() const { return tx_sent_ns ? tx_sent_ns : tap_sent_ns; }
  std::chrono::steady_clock::time_point deadline;
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
  const bool bare_rst = (t.flags & tcp_flag::rst) && !(t.flags & tcp_flag::ack);
  if (bare_rst && tuples == 1) return same_tuple;
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
  options.filter = "(tcp and host " + d.to_string() + " and port " + std::to_string(config.port) + ") or (" + icmp +
                   " and dst host " + s.to_string() + ")";
  options.snaplen = 256;
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
  } while (pending_.count(pending->isn));

  SegmentSpec spec;
  spec.src = config_.route.source;
  spec.dst = config_.destination;
  spec.sport = pending->sport;
  spec.dport = config_.port;
  spec.seq = pending->isn;
  spec.flags = tcp_flag::syn;
  spec.window = config_.window;
  spec.options = config_.syn_options;
  if (spec.options.timestamps) spec.options.timestamps->first = uint32_t(next_random(rng_state_));
  spec.ttl = config_.ttl;
  spec.ip_id = uint16_t(next_random(rng_state_));
  auto packet = craft_segment(spec);
  if (!packet) return tl::unexpected(packet.error());
  auto sent = sender_.send(*packet, config_.destination);
  if (!sent) return tl::unexpected(sent.error());
  pending->user_sent_ns = *sent;
  // Read after the send: a failed attempt before it restarts the keys.
  if (sender_.tx_timestamps()) pending->tx_key = sender_.last_tx_key();
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
        // The driver stamps: stop copying our own SYNs to the capture, which is work on
        // the path every later SYN travels.
        capture_.ignore_outgoing();
        break;
      }
    }
  }
}

void SynProber::handle(const CapturedPacket& packet, std::vector<ProbeReply>& done) {
  const auto decoded = decode_packet(packet.data.data(), packet.data.size());
  if (!decoded) return;
  const IpAddress& us = config_.route.source;
  const IpAddress& them = config_.destination;

  auto finish = [&](std::map<uint32_t, std::unique_ptr<Pending>>::iterator it, ProbeReply reply) {
    const Pending& p = *it->second;
    reply.probe_id = p.probe_id;
    reply.source_port = p.sport;
    reply.isn = p.isn;
    reply.sent_ns = p.kernel_sent_ns().value_or(p.user_sent_ns);
    const bool both_kernel = p.kernel_sent_ns() && packet.source == TimestampSource::kernel;
    reply.timestamps = both_kernel ? TimestampSource::kernel : TimestampSource::user;
    reply.rtt_ns = packet.time_ns - reply.sent_ns;
    pending_.erase(it);
    done.push_back(std::move(reply));
  };

  if (decoded->kind == DecodedPacket::Kind::tcp) {
    const DecodedTcp& t = decoded->tcp;
    if (packet.outgoing) {
      // Our own SYN leaving: its kernel timestamp starts the clock.
      if (decoded->src != us || decoded->dst != them || t.dport != config_.port || t.flags != tcp_flag::syn) return;
      auto it = pending_.find(t.seq);
      if (it != pending_.end() && it->second->sport == t.sport && !it->second->tap_sent_ns)
        it->second->tap_sent_ns = packet.time_ns;
      return;
    }
    if (decoded->src != them || decoded->dst != us || t.sport != config_.port) return;
    std::vector<PendingSyn> candidates;
    candidates.reserve(pending_.size());
    for (const auto& [isn, p] : pending_) candidates.push_back(PendingSyn{p->sport, isn});
    const auto match = match_syn_answer(*decoded, us, them, config_.port, candidates);
    auto it = match ? pending_.find(candidates[*match].isn) : pending_.end();
    ProbeReply reply;
    reply.responder = them;
    reply.ttl = decoded->ttl;
    reply.window = t.window;
    reply.flags = t.flags;
    reply.options = t.options;
    if (it != pending_.end() && (t.flags & tcp_flag::syn) && (t.flags & tcp_flag::ack) && !(t.flags & tcp_flag::rst)) {
      reply.outcome = ProbeOutcome::open;
      if (config_.send_reset) {
        SegmentSpec rst;
        rst.src = us;
        rst.dst = them;
        rst.sport = t.dport;
        rst.dport = t.sport;
        rst.seq = t.ack;
        rst.flags = tcp_flag::rst;
        rst.window = 0;
        rst.ttl = config_.ttl;
        if (auto bytes = craft_segment(rst)) (void)sender_.send(*bytes, them);
      }
      finish(it, std::move(reply));
      return;
    }
    if (it != pending_.end() && (t.flags & tcp_flag::rst)) {
      reply.outcome = ProbeOutcome::closed;
      finish(it, std::move(reply));
      return;
    }
    ++unmatched_;
    return;
  }

  if (decoded->kind == DecodedPacket::Kind::icmp_error && !packet.outgoing) {
    const QuotedDatagram& q = decoded->icmp.quoted;
    if (q.protocol != 6 || !q.ports_known || q.src != us || q.dst != them || q.dport != config_.port) return;
    auto it = q.seq ? pending_.find(*q.seq) : pending_.end();
    if (it == pending_.end() || it->second->sport != q.sport) {
      ++unmatched_;
      return;
    }
    ProbeReply reply;
    reply.outcome = ProbeOutcome::unreachable;
    reply.responder = decoded->src;
    reply.ttl = decoded->ttl;
    reply.icmp_v6 = decoded->icmp.v6;
    reply.icmp_type = decoded->icmp.type;
    reply.icmp_code = decoded->icmp.code;
    reply.icmp_text = decoded->icmp.description();
    finish(it, std::move(reply));
  }
}

uint64_t SynProber::capture_drops() {
  capture_drops_ += capture_.stats().dropped;  // the kernel's counters reset on each read
  return capture_drops_;
}

void SynProber::expire(std::chrono::steady_clock::time_point now, std::vector<ProbeReply>& done) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second->deadline > now) {
      ++it;
      continue;
    }
    ProbeReply reply;
    reply.probe_id = it->second->probe_id;
    reply.outcome = ProbeOutcome::filtered;
    reply.responder = config_.destination;
    reply.source_port = it->second->sport;
    reply.isn = it->second->isn;
    reply.sent_ns = it->second->kernel_sent_ns().value_or(it->second->user_sent_ns);
    done.push_back(std::move(reply));
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
