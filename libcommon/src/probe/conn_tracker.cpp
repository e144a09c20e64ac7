#include "tcpkit/probe/conn_tracker.hpp"

#include <algorithm>

namespace tcpkit {

namespace {
// The largest window shift RFC 7323 (2.3) allows: larger offers are taken as 14.
constexpr uint8_t kMaxWindowShift = 14;
}  // namespace

std::string FourTuple::to_string() const {
  return local.to_string_with_port(local_port) + " -> " + remote.to_string_with_port(remote_port);
}

TcpState state_after_send(TcpState state, uint8_t flags) {
  if (flags & tcp_flag::rst) return TcpState::close;
  const bool syn = flags & tcp_flag::syn, ack = flags & tcp_flag::ack, fin = flags & tcp_flag::fin;
  if (syn && !ack && state == TcpState::close) return TcpState::syn_sent;
  if (syn && ack && state == TcpState::listen) return TcpState::syn_recv;
  if (fin) {
    switch (state) {
      case TcpState::established:
      case TcpState::syn_recv: return TcpState::fin_wait1;
      case TcpState::close_wait: return TcpState::last_ack;
      default: break;
    }
  }
  return state;
}

TcpState state_after_receive(TcpState state, uint8_t flags, bool acks_our_syn, bool acks_our_fin) {
  const bool syn = flags & tcp_flag::syn, ack = flags & tcp_flag::ack, fin = flags & tcp_flag::fin;
  if (state == TcpState::listen && syn && !ack) return TcpState::syn_recv;
  if (flags & tcp_flag::rst) {
    // An RST in LISTEN is ignored; elsewhere we take it as accepted (the kernel checks the seq).
    return state == TcpState::listen ? state : TcpState::close;
  }
  if (state == TcpState::syn_sent) {
    if (syn && ack && acks_our_syn) return TcpState::established;
    if (syn && !ack) return TcpState::syn_recv;  // simultaneous open
    return state;
  }
  if (state == TcpState::syn_recv && ack && acks_our_syn) state = TcpState::established;
  if (ack && acks_our_fin) {
    if (state == TcpState::fin_wait1) state = TcpState::fin_wait2;
    else if (state == TcpState::closing) state = TcpState::time_wait;
    else if (state == TcpState::last_ack) return TcpState::close;
  }
  if (fin) {
    switch (state) {
      case TcpState::established: return TcpState::close_wait;
      case TcpState::fin_wait1: return TcpState::closing;  // simultaneous close
      case TcpState::fin_wait2: return TcpState::time_wait;
      default: break;
    }
  }
  return state;
}

ConnectionTracker::ConnectionTracker(FourTuple tuple) : tuple_(tuple) {
  local_.state = TcpState::close;
  remote_.state = TcpState::listen;
}

std::optional<TcpOptions> ConnectionTracker::timestamp_echo_for_remote() const {
  if (!local_.timestamps_in_syn || !remote_.timestamps_in_syn || !local_.last_tsval || !remote_.last_tsval)
    return std::nullopt;
  return timestamp_echo(*local_.last_tsval, *remote_.last_tsval);
}

uint32_t ConnectionTracker::remote_window() const {
  const uint32_t shift = window_scaling() && !remote_.window_in_syn ? *remote_.window_scale : 0;
  return uint32_t(remote_.window) << std::min<uint32_t>(shift, kMaxWindowShift);
}

std::optional<uint32_t> ConnectionTracker::in_window_seq(uint32_t offset) const {
  if (!local_.next_seq) return std::nullopt;
  return *local_.next_seq + offset;
}

std::optional<uint32_t> ConnectionTracker::out_of_window_seq(uint32_t beyond) const {
  if (!local_.next_seq) return std::nullopt;
  return *local_.next_seq + remote_window() + beyond;
}

namespace {
constexpr uint32_t kSeqSlack = 1u << 20;     // how far past the peer's SND.NXT a new segment may start
constexpr size_t kRejectedAcksKept = 64;
constexpr size_t kEdgesKept = 16;            // 8 segments: our latest, which an RST may ack
constexpr size_t kHeldPiecesKept = 16;       // out-of-order pieces remembered per side
constexpr size_t kRecentKept = 8;            // the peer's latest segments a copy may repeat

// Every option, not the timestamps alone: a peer's duplicate ACK that differs only by a D-SACK
// block (its answer to a duplicated data segment) is a segment of its own, not a network copy.
// The IPv4 identification too (0 == 0 over IPv6): a copy keeps its IP header, and a stack that
// repeats a segment to the letter under another ID (Linux's TIME_WAIT ACK goes out with ID 0)
// sent it anew.
bool same_segment(const TrackedSegment& a, const DecodedPacket& p) {
  const DecodedTcp& t = p.tcp;
  return a.seq == t.seq && a.ack == t.ack && a.flags == t.flags && a.window == t.window &&
         a.payload_length == t.payload_length && a.options == t.options && a.ip_id == p.ip_id;
}

// Of the peer's latest segments, the one this packet copies by its (non-zero) IPv4 ID.
const TrackedSegment* copied_by_ip_id(const ConnectionTracker::Side& from, const DecodedPacket& p) {
  if (p.ip_id == 0) return nullptr;
  for (const auto& r : from.recent)
    if (r.ip_id == p.ip_id && same_segment(r, p)) return &r;
  return nullptr;
}

// What the segment says by itself, before either side's history is consulted.
TrackedSegment wire_fields(Direction direction, const DecodedPacket& packet, int64_t time_ns, TimestampSource source) {
  const DecodedTcp& t = packet.tcp;
  TrackedSegment s;
  s.direction = direction;
  s.time_ns = time_ns;
  s.timestamps = source;
  s.seq = t.seq;
  s.ack = t.ack;
  s.flags = t.flags;
  s.window = t.window;
  s.payload_length = t.payload_length;
  s.sequence_length = t.payload_length + ((t.flags & tcp_flag::syn) ? 1 : 0) + ((t.flags & tcp_flag::fin) ? 1 : 0);
  s.ttl = packet.ttl;
  s.ip_id = packet.ip_id;
  s.options = t.options;
  return s;
}

// A network copy of the sender's last segment takes that segment's reading.
TrackedSegment network_copy(TrackedSegment s, const TrackedSegment& last) {
  s.duplicate = true;
  s.retransmission = last.retransmission;
  s.relative_seq = last.relative_seq;
  s.relative_ack = last.relative_ack;
  s.scaled_window = last.scaled_window;
  return s;
}

// A SYN gives the sender's ISN and what it offers (window scale, timestamps); the same ISN
// again is a retransmitted SYN, except a side's first SYN/ACK after its bare SYN: a simultaneous
// open (RFC 9293 3.5), where a side that receives a SYN in SYN-SENT answers it at its own ISN
// (found: our kernel's answer to a split handshake's SYN read as a retransmission).
void take_syn(ConnectionTracker::Side& from, const DecodedTcp& t, TrackedSegment& s) {
  if (!(t.flags & tcp_flag::syn)) return;
  const bool with_ack = t.flags & tcp_flag::ack;
  if (from.isn && *from.isn == t.seq) s.retransmission = !with_ack || from.syn_ack_sent;
  if (with_ack) from.syn_ack_sent = true;
  if (from.isn) return;
  from.isn = t.seq;
  if (const auto scale = t.options.window_scale()) from.window_scale = std::min<uint8_t>(*scale, kMaxWindowShift);
  from.timestamps_in_syn = t.options.timestamps().has_value();
}

// A segment below SND.NXT that is no retransmission: its bytes were never seen (it fills a gap
// the receiver holds, or lies below a later segment's seq, as a FIN overtaken by the ACK sent
// after it) and it left before the segments that overtook it on the way: its TSval is older
// than that of the first piece held beyond the hole it fills (a segment sent after it), or,
// with no piece held, not newer than the newest seen (a FIN overtaken by the ACK sent after it
// in the same millisecond). A retransmission waits for a timeout or for duplicate ACKs, and
// carries a newer TSval; without timestamps the two cannot be told apart, and it stays one.
// Not the newest TSval when pieces are held: a sender that resends two lost segments in one
// millisecond gives the second no newer TSval than the first resent (found on a lossy path:
// each such segment called out of order).
bool late_original(const ConnectionTracker::Side& from, const DecodedTcp& t, const TrackedSegment& s) {
  const uint32_t end = t.seq + s.sequence_length;
  const bool unseen = std::none_of(from.held.begin(), from.held.end(), [&](const auto& piece) {
    return seq_lt(t.seq, piece.second) && seq_gt(end, piece.first);
  });
  if (!from.in_order_end || seq_lt(t.seq, *from.in_order_end) || !unseen) return false;
  // An IPv4 ID that counts orders the sender's segments one by one, where a TSval shares one
  // millisecond among dozens (found: in a reordered bulk transfer, 43-56 overtaken originals a
  // run called retransmissions, their TSval the same as what overtook them). A resent segment
  // gets a new ID, newer than all before it; an older one than the newest seen left first.
  // Against what overtook it: the piece held beyond its hole, where it left first; not the
  // newest ID, which a segment resent before new data of the same burst is older than too.
  if (from.ip_ids_count() && s.ip_id != 0) {
    const ConnectionTracker::Side::Piece* beyond = nullptr;
    for (const auto& piece : from.held)
      if (seq_ge(piece.first, end) && (!beyond || seq_lt(piece.first, beyond->first))) beyond = &piece;
    const std::optional<uint16_t> overtaker =
        beyond ? (beyond->ip_id ? std::optional<uint16_t>(beyond->ip_id) : std::nullopt) : from.newest_ip_id;
    if (overtaker) return int16_t(uint16_t(s.ip_id - *overtaker)) < 0;
  }
  const auto ts = t.options.timestamps();
  if (!ts) return false;
  // Against a held piece, only an older TSval orders the two: one millisecond's segments share
  // one, and the filler may be the original (reordered within a burst) or the resent one (found
  // on a loss-only path: a segment resent just after new data of the same millisecond). That
  // cannot be told, and the filler stays a retransmission, as without timestamps.
  if (!from.held.empty()) {
    const std::optional<uint32_t> overtaker = from.held.front().tsval;
    if (!overtaker || !seq_lt(ts->first, *overtaker)) return false;
  } else if (!from.newest_tsval || seq_gt(ts->first, *from.newest_tsval)) {
    return false;
  }
  return true;
}

// Whether the sender's IPv4 IDs count: each new one a little ahead of the newest (or, for a
// segment overtaken on the way, a little behind it); a leap means random IDs, never ordered.
void note_ip_id(ConnectionTracker::Side& from, uint16_t id) {
  constexpr uint16_t kStep = 1024;  // a host-wide counter moves on with other traffic too
  if (id == 0 || from.ip_ids_random) return;
  if (!from.newest_ip_id) {
    from.newest_ip_id = id;
    return;
  }
  const auto delta = int16_t(uint16_t(id - *from.newest_ip_id));
  if (delta > 0 && delta <= kStep) {
    from.newest_ip_id = id;
    ++from.ip_id_steps;
  } else if (delta > kStep || delta < -int(kStep)) {
    from.ip_ids_random = true;
  }
}

// Retransmission, reordering and duplicate ACKs, judged against what this side had sent before.
void mark_repeats(const ConnectionTracker::Side& from, const ConnectionTracker::Side& to, const DecodedTcp& t,
                  TrackedSegment& s) {
  const bool syn = t.flags & tcp_flag::syn, fin = t.flags & tcp_flag::fin, ack = t.flags & tcp_flag::ack;
  if (!syn && !fin && !(t.flags & tcp_flag::rst) && s.payload_length == 0 && ack && from.next_seq &&
      t.seq == *from.next_seq - 1) {
    s.window_probe = true;
    s.zero_window = to.window == 0 && to.segments > 0;
    return;
  }
  if (fin && from.fin_seq && *from.fin_seq == t.seq + t.payload_length) s.retransmission = true;
  // A SYN at the sender's ISN was judged by take_syn (a simultaneous open's SYN/ACK repeats it).
  const bool judged_syn = syn && from.isn && *from.isn == t.seq;
  if (from.next_seq && s.sequence_length > 0 && !s.retransmission && !judged_syn) {
    if (seq_lt(t.seq, *from.next_seq)) {
      s.out_of_order = late_original(from, t, s);
      s.retransmission = !s.out_of_order;
    } else if (seq_gt(t.seq, *from.next_seq)) {
      s.after_gap = true;
    }
  }
  if (!s.retransmission && !syn && !fin && !(t.flags & tcp_flag::rst) && s.payload_length == 0 && ack && from.last_ack && *from.last_ack == t.ack &&
      from.window == t.window && from.segments > 0)
    s.duplicate_ack = true;
}

// The sender's record after this segment: SND.NXT, its FIN, last ACK and window, counts.
void advance_side(ConnectionTracker::Side& from, const DecodedTcp& t, const TrackedSegment& s) {
  const bool syn = t.flags & tcp_flag::syn;
  if (const auto ts = t.options.timestamps()) {
    from.last_tsval = ts->first;
    if (!from.newest_tsval || seq_gt(ts->first, *from.newest_tsval)) from.newest_tsval = ts->first;
  }
  if (!syn) note_ip_id(from, s.ip_id);
  const uint32_t end = t.seq + s.sequence_length;
  if (!(t.flags & tcp_flag::rst) && (!from.next_seq || seq_gt(end, *from.next_seq))) from.next_seq = end;
  if ((t.flags & tcp_flag::fin) && !from.fin_seq) from.fin_seq = t.seq + t.payload_length;
  if (t.flags & tcp_flag::ack) from.last_ack = t.ack;
  from.window = t.window;
  from.window_in_syn = syn;
  ++from.segments;
  if (s.retransmission) ++from.retransmissions;
}

// A piece beyond a hole, held. Pieces that touch or overlap are one, in the place and with the
// TSval of the one that came first: a bulk transfer sends dozens beyond one hole, and a cap on
// separate pieces forgot the rest, so the in-order edge stuck there and every later filler read
// as a retransmission (found: 19 'peer retransmissions' in a reordered 500 kB transfer whose
// server resent 2). At the cap, a piece that touches none joins the nearest, the bytes between
// taken as had: a filler of those reads as a retransmission, no edge sticks.
void hold_piece(ConnectionTracker::Side& from, ConnectionTracker::Side::Piece piece) {
  auto touches = [](const auto& a, const auto& b) { return seq_le(a.first, b.second) && seq_le(b.first, a.second); };
  auto join = [](auto& into, const auto& other) {
    if (seq_lt(other.first, into.first)) into.first = other.first;
    if (seq_gt(other.second, into.second)) into.second = other.second;
  };
  auto at = std::find_if(from.held.begin(), from.held.end(), [&](const auto& h) { return touches(h, piece); });
  if (at == from.held.end()) {
    if (from.held.size() < kHeldPiecesKept) {
      from.held.push_back(piece);
      return;
    }
    at = std::min_element(from.held.begin(), from.held.end(), [&](const auto& a, const auto& b) {
      auto gap = [&](const auto& h) { return seq_lt(h.second, piece.first) ? piece.first - h.second : h.first - piece.second; };
      return gap(a) < gap(b);
    });
  }
  join(*at, piece);
  // The grown piece may now reach later ones: they become part of it.
  for (bool merged = true; merged;) {
    merged = false;
    for (auto it = from.held.begin(); it != from.held.end(); ++it) {
      if (it == at || !touches(*it, *at)) continue;
      const bool earlier = it < at;
      auto joined = earlier ? *it : *at;
      join(joined, earlier ? *at : *it);
      const size_t keep = size_t(std::min(it, at) - from.held.begin());
      from.held[keep] = joined;
      from.held.erase(std::max(it, at));
      at = from.held.begin() + ptrdiff_t(keep);
      merged = true;
      break;
    }
  }
}

// The receiver's in-order edge of the sender's bytes after this segment: true when all of it,
// FIN included, is now in order (false for a piece beyond a gap, which is held).
bool take_in_order(ConnectionTracker::Side& from, const DecodedTcp& t, uint32_t sequence_length, uint16_t ip_id) {
  const uint32_t end = t.seq + sequence_length;
  if (t.flags & tcp_flag::syn) from.in_order_end = end;
  if (!from.in_order_end || (t.flags & tcp_flag::rst) || sequence_length == 0) return true;
  if (seq_gt(t.seq, *from.in_order_end)) {
    const auto ts = t.options.timestamps();
    hold_piece(from, {t.seq, end, ts ? std::optional<uint32_t>(ts->first) : std::nullopt, ip_id});
    return false;
  }
  if (seq_gt(end, *from.in_order_end)) from.in_order_end = end;
  for (bool grew = true; grew;) {  // held pieces the gap's filling reached
    grew = false;
    for (auto it = from.held.begin(); it != from.held.end();) {
      if (seq_le(it->first, *from.in_order_end)) {
        if (seq_gt(it->second, *from.in_order_end)) from.in_order_end = it->second, grew = true;
        it = from.held.erase(it);
      } else {
        ++it;
      }
    }
  }
  return true;
}

// States: the sender acts, the receiver reacts (in-flight time ignored).
void advance_states(ConnectionTracker::Side& from, ConnectionTracker::Side& to, const DecodedTcp& t,
                    const TrackedSegment& s) {
  const bool ack = t.flags & tcp_flag::ack;
  const bool acks_to_syn = ack && to.isn && seq_ge(t.ack, *to.isn + 1);
  const bool acks_to_fin = ack && to.fin_seq && seq_ge(t.ack, *to.fin_seq + 1);
  const bool in_order = take_in_order(from, t, s.sequence_length, s.ip_id);
  // A FIN ahead of missing data waits; it is acted on when the data before it has come.
  const bool fin_now = (t.flags & tcp_flag::fin) && in_order;
  if ((t.flags & tcp_flag::fin) && !in_order) from.fin_held = true;
  const bool fin_released = from.fin_held && from.fin_seq && from.in_order_end &&
                            seq_ge(*from.in_order_end, *from.fin_seq + 1);
  if (fin_released) from.fin_held = false;
  const uint8_t received = uint8_t((t.flags & ~tcp_flag::fin) | ((fin_now || fin_released) ? tcp_flag::fin : 0));
  // A segment of the peer's that acks our FIN was sent after it had our FIN: one drawn back in
  // SYN_RECV by a repeated SYN/ACK that crossed our ACK and FIN (or still ESTABLISHED) had
  // taken both, and was in CLOSE_WAIT (seen: its FIN drawn FIN_WAIT1, then FIN_WAIT2, while it
  // went LAST_ACK, then CLOSED).
  if (s.direction == Direction::inbound && acks_to_fin && !(t.flags & (tcp_flag::syn | tcp_flag::rst)) &&
      (from.state == TcpState::syn_recv || from.state == TcpState::established))
    from.state = TcpState::close_wait;
  if (!s.retransmission || (t.flags & tcp_flag::rst)) {
    // The peer's FIN that does not ack ours crossed it: the peer sent it from ESTABLISHED
    // (FIN_WAIT1), not from the CLOSE_WAIT our FIN would have made, and ours then brought it
    // to CLOSING (seen: drawn CLOSE_WAIT -> LAST_ACK -> CLOSE; ss said TIME-WAIT). So it is
    // when the FIN comes ahead of lost data: the peer's state is what it sent, not what we
    // could take in order yet.
    if (s.direction == Direction::inbound && (t.flags & tcp_flag::fin) && from.state == TcpState::close_wait &&
        to.fin_seq && !acks_to_fin)
      from.state = TcpState::closing;
    else
      from.state = state_after_send(from.state, t.flags);
    to.state = state_after_receive(to.state, received, acks_to_syn, acks_to_fin);
    return;
  }
  if (fin_released) to.state = state_after_receive(to.state, tcp_flag::fin, false, false);
  // A repeated SYN/ACK is the sender's own word that it is still in SYN_RECEIVED: the ACK
  // we inferred it had received was lost.
  if ((t.flags & tcp_flag::syn) && ack) from.state = TcpState::syn_recv;
  // So is a repeated FIN: the ACK of its FIN, which we took it to have, was lost (seen: the
  // peer drawn CLOSED while it retransmitted its FIN from LAST_ACK).
  // (The peer's only: a FIN of ours sent again on purpose, as tcpstray does, says nothing.)
  if (s.direction == Direction::inbound && (t.flags & tcp_flag::fin) && !(t.flags & tcp_flag::syn)) {
    if (from.state == TcpState::close) from.state = TcpState::last_ack;
    else if (from.state == TcpState::fin_wait2) from.state = TcpState::fin_wait1;
    else if (from.state == TcpState::time_wait) from.state = TcpState::closing;
  }
  if (acks_to_fin) to.state = state_after_receive(to.state, tcp_flag::ack, false, true);
}
}  // namespace

std::optional<RejectReason> ConnectionTracker::check_inbound(const DecodedTcp& t) const {
  const bool ack = t.flags & tcp_flag::ack, rst = t.flags & tcp_flag::rst, syn = t.flags & tcp_flag::syn;
  if (!local_.isn || !local_.next_seq) return std::nullopt;  // nothing of ours to check against
  const bool ack_ok = seq_ge(t.ack, *local_.isn + 1) && seq_le(t.ack, *local_.next_seq);
  if (!remote_.isn) {
    // SYN-SENT: only our ISN+1 may be acked (RFC 9293 3.10.7.3); an RST needs that ACK.
    if (ack && t.ack != *local_.isn + 1) return RejectReason::wrong_ack;
    if (rst && !ack) return RejectReason::wrong_seq;
    return std::nullopt;
  }
  if (syn && ack && local_.last_syn_seq && t.ack == *local_.last_syn_seq + 1) return std::nullopt;
  if (rst && ack && (ack_ok || std::find(sent_edges_.begin(), sent_edges_.end(), t.ack) != sent_edges_.end()))
    return std::nullopt;
  // <SEQ=SEG.ACK><CTL=RST>: the answer of a stack where one of our segments met no connection
  // (RFC 9293 3.10.7.1), whatever number that segment acked (tcpstray acks below SND.NXT).
  if (rst && !ack && std::find(sent_acks_.begin(), sent_acks_.end(), t.seq) != sent_acks_.end()) return std::nullopt;
  const uint32_t reach = std::max(kSeqSlack, uint32_t(local_.window) << std::min<uint32_t>(local_.window_scale.value_or(0), kMaxWindowShift));
  const uint32_t next = remote_.next_seq.value_or(*remote_.isn + 1);
  if (seq_lt(t.seq, *remote_.isn) || seq_gt(t.seq, next + reach)) return RejectReason::wrong_seq;
  if (ack && !ack_ok) return RejectReason::wrong_ack;
  return std::nullopt;
}

std::optional<Direction> ConnectionTracker::direction_of(const DecodedPacket& packet, bool captured_outgoing) {
  const DecodedTcp& t = packet.tcp;
  if (packet.src == tuple_.local && packet.dst == tuple_.remote && t.sport == tuple_.local_port &&
      t.dport == tuple_.remote_port)
    return Direction::outbound;
  if (packet.src == tuple_.remote && packet.dst == tuple_.local && t.sport == tuple_.remote_port &&
      t.dport == tuple_.local_port)
    return Direction::inbound;
  // To our endpoint from the peer's port, but from another address: a forgery (the capture
  // lets these through so that they are counted).
  if (!captured_outgoing && packet.dst == tuple_.local && t.dport == tuple_.local_port &&
      t.sport == tuple_.remote_port && packet.src != tuple_.remote)
    rejected_.add(RejectReason::wrong_address);
  return std::nullopt;  // another connection's segment
}

bool ConnectionTracker::reject_inbound(const DecodedTcp& t) {
  const auto why = check_inbound(t);
  if (!why) return false;
  rejected_.add(*why);
  if (t.flags & tcp_flag::ack) {
    if (rejected_acks_.size() >= kRejectedAcksKept) rejected_acks_.erase(rejected_acks_.begin());
    rejected_acks_.push_back(t.ack);
  }
  return true;
}

// Our RST without ACK whose seq is the ack of a segment we rejected: our kernel's answer to it.
bool ConnectionTracker::answers_rejected(const DecodedTcp& t) const {
  return (t.flags & tcp_flag::rst) && !(t.flags & tcp_flag::ack) && t.payload_length == 0 &&
         std::find(rejected_acks_.begin(), rejected_acks_.end(), t.seq) != rejected_acks_.end();
}

void ConnectionTracker::remember_sent(const DecodedTcp& t, uint32_t sequence_length) {
  if (t.flags & tcp_flag::syn) local_.last_syn_seq = t.seq;
  if (sent_edges_.size() >= kEdgesKept) sent_edges_.erase(sent_edges_.begin(), sent_edges_.begin() + 2);  // one segment's two edges
  sent_edges_.push_back(t.seq);
  sent_edges_.push_back(t.seq + sequence_length);
  if (!(t.flags & tcp_flag::ack)) return;
  if (sent_acks_.size() >= kEdgesKept / 2) sent_acks_.erase(sent_acks_.begin());
  sent_acks_.push_back(t.ack);
}

TrackedSegment ConnectionTracker::with_states(TrackedSegment s) const {
  s.local_state_inferred = local_.state;
  s.remote_state_inferred = remote_.state;
  return s;
}

std::optional<TrackedSegment> ConnectionTracker::feed(const DecodedPacket& packet, bool captured_outgoing,
                                                      int64_t time_ns, TimestampSource source) {
  if (packet.kind != DecodedPacket::Kind::tcp) return std::nullopt;
  const DecodedTcp& t = packet.tcp;
  const auto direction = direction_of(packet, captured_outgoing);
  if (!direction) return std::nullopt;
  // On loopback both copies of each packet are captured: keep the sender's.
  if ((*direction == Direction::outbound) != captured_outgoing) return std::nullopt;
  if (*direction == Direction::inbound && reject_inbound(t)) return std::nullopt;

  Side& from = *direction == Direction::outbound ? local_ : remote_;
  Side& to = *direction == Direction::outbound ? remote_ : local_;
  TrackedSegment s = wire_fields(*direction, packet, time_ns, source);
  // A network copy is byte for byte the last segment, TSval included: shown, never acted on.
  // Inbound only: our capture sees our own segments before any network could copy them, so an
  // outbound repeat is our kernel's own (a second ACK).
  if (*direction == Direction::inbound)
    if (const TrackedSegment* copied = copied_by_ip_id(from, packet)) {
      TrackedSegment copy = network_copy(s, *copied);
      copy.copy_proven = true;
      return with_states(copy);
    }
  if (*direction == Direction::inbound && from.last && t.options.timestamps() && same_segment(*from.last, packet))
    return with_states(network_copy(s, *from.last));
  // Found behind nft synproxy: the proxy's SYN/ACK to tcpstray's SYN on a live connection was
  // counted a peer retransmission, and its random seq moved the peer's SND.NXT.
  if (*direction == Direction::inbound && (t.flags & tcp_flag::syn) && from.isn && *from.isn != t.seq) {
    s.foreign_syn = true;
    s.relative_seq = t.seq - *from.isn;
    s.relative_ack = ((t.flags & tcp_flag::ack) && to.isn) ? t.ack - *to.isn : 0;
    return with_states(s);
  }
  if (*direction == Direction::outbound && answers_rejected(t)) {
    s.answers_rejected = true;
    s.relative_seq = from.isn ? t.seq - *from.isn : 0;
    return with_states(s);
  }
  if (*direction == Direction::outbound) remember_sent(t, s.sequence_length);
  take_syn(from, t, s);
  mark_repeats(from, to, t, s);
  advance_side(from, t, s);
  s.relative_seq = from.isn ? t.seq - *from.isn : 0;
  s.relative_ack = ((t.flags & tcp_flag::ack) && to.isn) ? t.ack - *to.isn : 0;
  const bool scaled = !(t.flags & tcp_flag::syn) && window_scaling();
  s.scaled_window = uint32_t(t.window) << (scaled ? *from.window_scale : 0);
  advance_states(from, to, t, s);
  s = with_states(s);
  from.last = s;
  if (s.ip_id != 0) {
    if (from.recent.size() >= kRecentKept) from.recent.erase(from.recent.begin());
    from.recent.push_back(s);
  }
  return s;
}

}  // namespace tcpkit
