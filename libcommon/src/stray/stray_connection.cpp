#include "tcpkit/stray/stray_connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "tcpkit/probe/live_connection.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/tcp_info.hpp"
#include "tcpkit/io/tcp_min_rtt.hpp"
#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/io/wake_event.hpp"
#include "tcpkit/stray/earlier_copy.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpkit {

namespace {

using Clock = std::chrono::steady_clock;
using namespace tcp_flag;
constexpr auto kGrace = std::chrono::milliseconds(50);
// Before a live case the connection must be quiet this long (within -W, at least kQuietMin):
// a banner-first server (sshd sends its banner 50-80 ms after accept) is absorbed first.
constexpr auto kQuietMin = std::chrono::milliseconds(200);
constexpr auto kQuietMax = std::chrono::milliseconds(500);
constexpr int kQuietRounds = 10;           // a peer that never falls quiet: give up after this many periods
constexpr uint32_t kBeyond = 65536;        // how far past the window edge "out of window" aims
constexpr uint32_t kOldData = 1000;        // how far below RCV.NXT the old data starts
constexpr uint32_t kOldDataLength = 10;
// How far below SND.NXT the ack of live-rst-exact's byte is. Linux takes a cookie whose ack is
// up to 3 below its own (the low bits hold an MSS index, 0 to 3, which then reads lower); any
// window holds 1000.
constexpr uint32_t kOldAck = 1000;
// A case that expects an ACK and saw nothing sends its segment again this long after the first:
// Linux's host-wide challenge-ACK limit counts per second, tcp_invalid_ratelimit per 500 ms.
constexpr auto kRetryAfter = std::chrono::milliseconds(1100);
constexpr int kHandshakeAckCopies = 2;
// How long a primed connection waits for the ACK of its bytes, when -W is shorter: a delayed ACK
// may hold it 200 ms (Linux) or 500 ms (RFC 9293's ceiling).
constexpr auto kPrimeAckWait = std::chrono::milliseconds(1000);
// A case's segment leaves at least this long after the peer's latest segment, so that the
// peer's timestamp clock (1 ms on Linux, at most 10 ms on stacks we know) ticks in between and
// a fresh answer is told from a network copy of that segment by its TSval (earlier_copy.hpp).
constexpr int64_t kTickNs = 10'000'000;
// Our segment is not seen leaving within this long: the capture may not show it, and what
// comes after is judged by the time it was sent.
constexpr int64_t kDepartureUnseenNs = 1'000'000;
constexpr size_t kRecentInbound = 16;  // the peer's latest segments, for copies of them
// A TIME_WAIT case's connection lasts at least this long before our FIN, so that the peer's
// timestamps show how fast its clock ticks (PeerClock): over a bare link the whole connection
// took about a millisecond, one tick or none, and a late copy of the peer's ACK then left the
// case undecided. 20 ticks of a 1 ms clock; a slower one stays unmeasured, as it should.
constexpr auto kClockSpan = std::chrono::milliseconds(20);
// While the TIME_WAIT cases read the peer's response: the socket is read again at least this
// often, and the wait for the FIN starts again while data comes, at most this many times.
constexpr auto kReadStep = std::chrono::milliseconds(10);
constexpr int kMaxResponseWaits = 10;

// Closes the connection under test without a FIN (an RST, which the guard may drop: the peer
// is cleaned up by us).
void abort_close(UniqueFd& socket) {
  if (!socket.valid()) return;
  linger l{1, 0};
  ::setsockopt(socket.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  socket.reset();
}

// Whole-case context: the connection, what we sent, and every segment for -v.
class CaseRunner {
 public:
  CaseRunner(StrayCase id, const StrayTarget& t, RawSender& sender, int cancel_fd)
      : id_(id), t_(t), sender_(sender), cancel_fd_(cancel_fd) {
    run_.id = id;
  }
  ~CaseRunner() { abort_close(socket_); }
  CaseRunner(const CaseRunner&) = delete;
  CaseRunner& operator=(const CaseRunner&) = delete;

  Result<StrayRun> run();

 private:
  // The peer's RCV.NXT and SND.NXT, its receive window and half of it (at least 1).
  struct Edges {
    uint32_t rcv_nxt = 0, snd_nxt = 0, window = 0, half = 0;
  };
  Result<bool> set_up();
  Edges edges() const;
  Result<void> aim_probe(const Edges& e, std::vector<uint8_t>& payload);
  Result<void> follow_up(const Edges& e);
  Result<void> life_check(const Edges& e);
  Result<void> pre_check(const Edges& e);
  Result<bool> connect_and_follow();
  Result<bool> reach_time_wait();
  enum class StreamEnd { fin, reset, none, fin_ahead_of_data, cancelled };
  Result<StreamEnd> read_to_end(std::chrono::microseconds wait);
  Result<bool> wait_quiet();
  Result<bool> prime();
  Result<void> hold_local_port();
  Result<void> inject(uint8_t flags, uint32_t seq, uint32_t ack, std::vector<uint8_t> payload = {});
  std::optional<uint16_t> our_window() const;
  void pace() const;
  // Reads segments until the deadline (or the grace after the first answer when stop_early).
  Result<std::vector<StraySegment>> collect(bool stop_early, std::optional<Clock::time_point> until = std::nullopt);
  Result<void> retry(const std::vector<uint8_t>& payload, Clock::time_point sent_at);
  // Sends one more segment of the case and reads what it draws (the wait ends soon after an answer).
  Result<std::vector<StraySegment>> send_and_collect(const StrayProbe& p, std::vector<uint8_t> payload = {});
  Result<std::optional<TrackedSegment>> wait_segment(const std::function<bool(const TrackedSegment&)>& match,
                                                     Clock::time_point deadline);
  void note(const TrackedSegment& s);
  void mark_own_segments();
  void note_resets_between_waits();
  bool cancelled() const;
  void cleanup();
  uint32_t peer_window() const;
  StrayAnswer answer() const { return stray_case_info(id_).answer; }
  bool is_handshake_repeat(const TrackedSegment& s) const {
    const auto& isn = live_->tracker().remote().isn;
    return s.direction == Direction::inbound && (s.flags & syn) && (s.flags & ack) && isn && s.seq == *isn;
  }
  bool problem_flag(std::string text) {
    run_.seen.setup_problem = std::move(text);
    return false;
  }
  StrayRun problem(std::string text) {
    run_.seen.setup_problem = std::move(text);
    if (live_) run_.rejected = live_->rejected();
    return std::move(run_);
  }

  StrayCase id_;
  const StrayTarget& t_;
  RawSender& sender_;
  int cancel_fd_;
  StrayRun run_;
  UniqueFd socket_;       // the connection under test, closed by abort_close
  UniqueFd port_holder_;  // keeps our port bound once socket_ is closed (TIME_WAIT cases)
  FourTuple tuple_;
  std::optional<LiveConnection> live_;
  std::vector<SegmentSpec> crafted_;
  bool peer_in_time_wait_ = false;  // from then on the peer holds nothing we must reset
  bool injected_ = false;           // the case's segment has been sent
  int64_t last_sent_ns_ = 0;        // when the last crafted segment was handed to the kernel
  // Until the capture shows the last crafted segment leaving, nothing received can answer it
  // (a copy read in the moment between send() and the wire passed for the answer).
  bool awaiting_departure_ = false;
  // Our kernel's last window on the wire, and whether a SYN (never scaled) carried it.
  std::optional<std::pair<uint16_t, bool>> kernel_window_;
  int64_t departed_ns_ = 0;         // when the capture saw it leave
  std::optional<uint32_t> peer_tsval_at_departure_;  // the peer's newest TSval then
  // When the last crafted segment left: the capture's time, else the send's.
  int64_t last_departure_ns() const { return departed_ns_ ? departed_ns_ : last_sent_ns_; }
  std::vector<TrackedSegment> recent_inbound_;  // the peer's latest segments (kRecentInbound)
  const TrackedSegment* last_inbound() const { return recent_inbound_.empty() ? nullptr : &recent_inbound_.back(); }
  PeerClock peer_clock_;
  bool copies_seen_ = false;        // the network duplicated a segment of the peer's
  Clock::time_point connected_at_{};  // our kernel's ACK of the SYN/ACK left
};

std::string plus(const char* base, int64_t offset) {
  if (offset == 0) return base;
  return std::string(base) + (offset > 0 ? "+" : "-") + std::to_string(offset > 0 ? offset : -offset);
}

bool CaseRunner::cancelled() const { return cancel_requested(cancel_fd_); }

void CaseRunner::note(const TrackedSegment& s) {
  StraySegment out;
  out.outbound = s.direction == Direction::outbound;
  out.time_ns = s.time_ns;
  out.flags = s.flags;
  out.seq = s.seq;
  out.ack = s.ack;
  out.window = s.window;
  out.payload_length = s.payload_length;
  if (const auto ts = s.options.timestamps()) out.tsval = ts->first;
  out.peer_own = !out.outbound && is_peer_own_traffic(classify_segment(s.flags, s.payload_length));
  // The tracker has seen this segment: a keepalive probe leaves the peer's SND.NXT where it was.
  if (!out.outbound && !out.peer_own)
    if (const auto peer_snd_nxt = live_->tracker().ack_for_remote())
      out.keepalive = out.peer_own = is_keepalive_probe(s.flags, s.seq, s.payload_length, *peer_snd_nxt);
  out.window_probe = out.keepalive && s.zero_window;
  // Sent before our segment left, by the peer's own clock: no answer to it, whatever it looks like.
  // Not a SYN at another ISN: its TSval is a clock of its own (found: a SYN proxy's answer to
  // live-syn taken for one held back, by a coin flip of its random TSval, and silence judged).
  if (!out.outbound && !s.foreign_syn && out.tsval && peer_tsval_at_departure_ && departed_ns_ != 0 &&
      seq_lt(*out.tsval, *peer_tsval_at_departure_))
    out.stale = out.peer_own = true;
  if (out.outbound)
    for (const auto& c : crafted_)
      // The window too: our kernel's ACK (a keepalive's answer) repeats seq, ack and flags.
      if (c.seq == s.seq && c.flags == s.flags && c.ack == s.ack && c.window == s.window) out.crafted = true;
  if (out.outbound && !out.crafted) kernel_window_ = {s.window, bool(s.flags & tcp_flag::syn)};
  if (out.crafted && awaiting_departure_) {
    awaiting_departure_ = false;
    departed_ns_ = s.time_ns;
    peer_tsval_at_departure_ = live_ ? live_->tracker().remote().newest_tsval : std::nullopt;
  }
  if (!out.outbound && !s.foreign_syn) {  // a proxy's SYN/ACK is no reading of the peer's clock, nor acks its bytes
    if (const auto ts = s.options.timestamps(); ts && !s.duplicate) peer_clock_.observe(s.time_ns, ts->first);
    copies_seen_ = copies_seen_ || s.duplicate;
    if (recent_inbound_.size() == kRecentInbound) recent_inbound_.erase(recent_inbound_.begin());
    recent_inbound_.push_back(s);
  }
  run_.segments.push_back(out);
}

// The segment `s` of the -v list is in `list` (an observation's answers, copied from it).
const StraySegment* find_segment(const std::vector<StraySegment>& list, const StraySegment& s) {
  const auto it = std::find_if(list.begin(), list.end(), [&](const StraySegment& a) {
    return a.time_ns == s.time_ns && a.flags == s.flags && a.seq == s.seq && a.ack == s.ack;
  });
  return it == list.end() ? nullptr : &*it;
}

// The segments -v and the JSON show: marked as the observation's answers are (set_aside_own_resets).
void CaseRunner::mark_own_segments() {
  for (auto& s : run_.segments)
    if (!s.outbound && !s.peer_own)
      if (const StraySegment* answer = find_segment(run_.seen.answers, s); answer && answer->peer_own) s.peer_own = true;
}

// A reset of the peer's on a live connection after the case's segment that no wait took for an
// answer: it came between the waits, so the peer reset the connection on its own (found: a
// server's abort between our out-of-window RST and the ACK after it made that ACK draw a reset,
// read as "the out-of-window RST reset the connection").
void CaseRunner::note_resets_between_waits() {
  StrayObservation& seen = run_.seen;
  if (stray_case_info(id_).group != StrayGroup::live || seen.probe_sent_ns <= 0) return;
  for (const auto& s : run_.segments)
    if (!s.outbound && (s.flags & rst) && s.time_ns >= seen.probe_sent_ns && !find_segment(seen.answers, s) &&
        !find_segment(seen.retry_answers, s) && !find_segment(seen.follow_up_answers, s) &&
        !find_segment(seen.life_check_answers, s))
      seen.peer_reset_on_its_own = true;
}

Result<std::optional<TrackedSegment>> CaseRunner::wait_segment(const std::function<bool(const TrackedSegment&)>& match,
                                                               Clock::time_point deadline) {
  for (;;) {
    auto s = live_->next(deadline, cancel_fd_);
    if (!s) return tl::unexpected(s.error());
    if (!*s) return s;
    note(**s);
    if (match(**s)) return s;
  }
}

Result<bool> CaseRunner::connect_and_follow() {
  const IpAddress& us = t_.route.source;
  socket_.reset(::socket(us.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket_.valid()) return fail_errno("TCP socket", errno);
  if (t_.bind_interface &&
      ::setsockopt(socket_.get(), SOL_SOCKET, SO_BINDTODEVICE, t_.route.interface.c_str(), socklen_t(t_.route.interface.size())) < 0)
    return fail_errno("bind to interface " + t_.route.interface, errno);
  socklen_t length = 0;
  sockaddr_storage local = us.to_sockaddr(0, &length);
  // SO_REUSEADDR lets the TIME_WAIT cases bind a second socket to this port (hold_local_port).
  const int on = 1;
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // Bound first: the capture must know the local port before the SYN leaves.
  if (::bind(socket_.get(), reinterpret_cast<sockaddr*>(&local), length) < 0) return fail_errno("bind", errno);
  tuple_ = FourTuple{us, t_.address, local_port(socket_.get()).value_or(0), t_.port};
  run_.local_port = tuple_.local_port;
  auto live = LiveConnection::open(tuple_, t_.route.interface);
  if (!live) return tl::unexpected(live.error());
  live_.emplace(std::move(*live));
  sockaddr_storage remote = t_.address.to_sockaddr(t_.port, &length);
  if (::connect(socket_.get(), reinterpret_cast<sockaddr*>(&remote), length) < 0 && errno != EINPROGRESS) {
    run_.seen.setup_problem = std::string("connect() failed: ") + std::strerror(errno);
    return false;
  }
  // The handshake is done for us once our kernel's ACK of the SYN/ACK leaves.
  auto done = wait_segment([](const TrackedSegment& s) {
    return s.direction == Direction::outbound && !(s.flags & syn) && (s.flags & ack);
  }, Clock::now() + std::max(t_.timeout, t_.handshake_timeout));
  if (!done) return tl::unexpected(done.error());
  if (!*done) {
    int error = 0;
    socklen_t error_length = sizeof error;
    ::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &error, &error_length);
    run_.seen.setup_problem = error ? std::string("could not connect: ") + std::strerror(error)
                                    : std::string("the handshake did not complete within the timeout");
    run_.path_loss = run_.path_loss || !error;
    return false;
  }
  connected_at_ = Clock::now();
  if (!live_->tracker().exact_next_seq() || !live_->tracker().ack_for_remote()) {
    run_.seen.setup_problem = "the tracker did not learn the connection's sequence numbers";
    return false;
  }
  // Had our kernel's ACK been lost, the peer would still be half-open (SYN-RECEIVED) when the
  // stray segment comes, and answer as such (an RST to a SYN or to an ACK of unsent data). Two
  // copies make that unlikely; an ESTABLISHED peer takes a duplicate ACK without a word.
  if (stray_case_info(id_).group == StrayGroup::live)
    for (int i = 0; i < kHandshakeAckCopies; ++i)
      if (auto r = inject(ack, (*done)->seq, (*done)->ack); !r) return tl::unexpected(r.error());
  return true;
}

// The peer closes first (after our request, if any); we close after it: the peer ends in TIME_WAIT.
Result<bool> CaseRunner::reach_time_wait() {
  if (!t_.request.empty()) {
    const ssize_t n = ::send(socket_.get(), t_.request.data(), t_.request.size(), MSG_NOSIGNAL);
    if (n < 0) return fail_errno("send the request", errno);
  }
  // Time for the peer to send its answer and FIN again when the path lost them.
  const auto floor = std::max<std::chrono::microseconds>(t_.handshake_timeout, std::chrono::seconds(1));
  const auto wait = std::max<std::chrono::microseconds>(t_.timeout * 3, floor);
  auto end = read_to_end(wait);
  if (!end) return tl::unexpected(end.error());
  switch (*end) {
    case StreamEnd::fin: break;
    case StreamEnd::reset:
      // A server that speaks first and closes (a banner) resets a connection that holds data
      // it never read: our request, when it came after the close or was left unread.
      return problem_flag(t_.request.empty()
                              ? "the peer reset the connection instead of closing it (an abortive close, as with "
                                "SO_LINGER 0, leaves no TIME_WAIT): TIME_WAIT cases need a server that closes with a FIN"
                              : "the peer reset the connection instead of closing it: an abortive close (SO_LINGER 0), "
                                "or a close with our --request unread (a server that speaks first and closes does "
                                "so; run without --request); TIME_WAIT cases need a server that closes with a FIN");
    case StreamEnd::none: {
      // Found: "give it one with --request" to a user who had (nginx closes an idle keep-alive
      // connection after keepalive_timeout, 5 s, later than the wait).
      const std::string waited = format_fixed(double(wait.count()) / 1e6, 1) + " s";
      const std::string longer = "a longer -W (the wait is 3 x -W, at least " +
                                 format_fixed(double(floor.count()) / 1e6, 1) + " s)";
      return problem_flag(t_.request.empty()
                              ? "the peer did not close first within " + waited +
                                    ": TIME_WAIT cases need a server that closes after its response (give it one "
                                    "with --request, or " + longer + " for one that closes an idle connection later)"
                              : "the peer did not close first within " + waited +
                                    " of our --request: TIME_WAIT cases need a server that closes after its "
                                    "response; one that closes an idle connection later (nginx's keepalive_timeout) "
                                    "needs " + longer);
    }
    case StreamEnd::fin_ahead_of_data:
      run_.path_loss = true;
      return problem_flag("the peer's FIN came before data it had sent, and that data did not follow in time (loss or "
                          "reordering on the path): closing then would have reset the connection, no TIME_WAIT");
    case StreamEnd::cancelled: return false;
  }
  // Our close: FIN out, the peer acks it and is in TIME_WAIT.
  if (auto held = hold_local_port(); !held) return tl::unexpected(held.error());
  std::this_thread::sleep_until(connected_at_ + kClockSpan);  // the peer's ACK of our FIN: a later reading
  socket_.reset();
  auto acked = wait_segment([this](const TrackedSegment& s) {
    const auto& fin_seq = live_->tracker().local().fin_seq;
    return s.direction == Direction::inbound && fin_seq && (s.flags & tcp_flag::ack) && s.ack == *fin_seq + 1;
  }, Clock::now() + wait);
  if (!acked) return tl::unexpected(acked.error());
  if (!*acked || !live_->tracker().local().fin_seq) {
    run_.seen.setup_problem = "the peer did not acknowledge our FIN: no TIME_WAIT to test";
    return false;
  }
  peer_in_time_wait_ = true;
  return true;
}

// Reads the peer's data until its FIN, in order, while the tracker follows the segments:
// - data left unread fills our window, and the FIN waits behind it (a response of over about
//   120 kB read "the peer did not close first");
// - a FIN that overtook data (a reordering path) leaves that data to come, and a close() before
//   it came made our stack reset (data after close) instead of sending a FIN; the peer, its FIN
//   unacknowledged, sat in CLOSING.
// The wait starts again while data comes, up to kMaxResponseWaits of them.
Result<CaseRunner::StreamEnd> CaseRunner::read_to_end(std::chrono::microseconds wait) {
  const auto start = Clock::now();
  auto deadline = start + wait;
  const auto cap = start + wait * kMaxResponseWaits;
  bool fin_seen = false;
  char buf[4096];
  while (true) {
    for (;;) {
      const ssize_t n = ::recv(socket_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return StreamEnd::fin;
      if (n > 0) {
        deadline = std::min(cap, Clock::now() + wait);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return StreamEnd::reset;  // ECONNRESET
    }
    if (cancelled()) return StreamEnd::cancelled;
    if (Clock::now() >= deadline) return fin_seen ? StreamEnd::fin_ahead_of_data : StreamEnd::none;
    auto s = live_->next(std::min(deadline, Clock::now() + kReadStep), cancel_fd_);
    if (!s) return tl::unexpected(s.error());
    if (!*s) continue;
    note(**s);
    if ((*s)->direction != Direction::inbound) continue;
    if ((*s)->flags & tcp_flag::rst) return StreamEnd::reset;
    if ((*s)->flags & tcp_flag::fin) fin_seen = true;
  }
}

// The live cases start on a quiet connection: a banner (or any data the server sends first) is
// absorbed, and the tracker's SND.NXT follows it. A peer that closes, resets or keeps talking
// leaves no live case to run.
Result<bool> CaseRunner::wait_quiet() {
  const auto quiet = std::clamp<Clock::duration>(t_.timeout, kQuietMin, kQuietMax);
  const auto give_up = Clock::now() + quiet * kQuietRounds;
  auto deadline = Clock::now() + quiet;
  while (Clock::now() < give_up) {
    auto s = live_->next(std::min(deadline, give_up), cancel_fd_);
    if (!s) return tl::unexpected(s.error());
    if (!*s) {
      if (Clock::now() >= deadline) return true;
      break;  // interrupted or gave up
    }
    note(**s);
    if ((*s)->direction != Direction::inbound) continue;
    if ((*s)->flags & rst) {
      run_.seen.setup_problem = "the peer reset the connection before the case";
      return false;
    }
    if ((*s)->flags & fin) {
      run_.seen.setup_problem = "the peer closed the connection before the case: the live cases need a server that "
                                "keeps it open";
      return false;
    }
    deadline = Clock::now() + quiet;
  }
  run_.seen.setup_problem = cancelled() ? std::string("interrupted before the case started")
                                        : "the peer never fell quiet for " +
                                              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count()) +
                                              " ms: its own traffic would overlap every answer";
  return false;
}

// Once our socket is closed (LAST_ACK, then gone: the peer holds the TIME_WAIT) nothing would
// keep our port, and the kernel could give it to a new connect() to the same server, whose SYN
// would meet the very TIME_WAIT under test. A bound, never-connected socket holds it for the
// case: it matches no arriving segment, so it changes nothing our kernel answers.
Result<void> CaseRunner::hold_local_port() {
  const IpAddress& us = tuple_.local;
  port_holder_.reset(::socket(us.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (port_holder_.get() < 0) return fail_errno("TCP socket (to hold the local port)", errno);
  const int on = 1;
  ::setsockopt(port_holder_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (t_.bind_interface && ::setsockopt(port_holder_.get(), SOL_SOCKET, SO_BINDTODEVICE, t_.route.interface.c_str(),
                                        socklen_t(t_.route.interface.size())) < 0)
    return fail_errno("bind to interface " + t_.route.interface, errno);
  socklen_t length = 0;
  sockaddr_storage local = us.to_sockaddr(tuple_.local_port, &length);
  if (::bind(port_holder_.get(), reinterpret_cast<sockaddr*>(&local), length) < 0)
    return fail_errno("hold local port " + std::to_string(tuple_.local_port), errno);
  return {};
}

// The window our stack last offered, as on the wire, less one: a crafted segment that offered
// 64240 under a scale of 7 told the peer 8 MB, and a peer with data to send sent more of it
// during a case. One less is alike for the peer, and tells a crafted segment from our kernel's
// with the same seq, ack and flags (its ACK of a keepalive) in the capture.
std::optional<uint16_t> CaseRunner::our_window() const {
  if (!live_ || !kernel_window_) return std::nullopt;
  const auto [wire, in_syn] = *kernel_window_;
  // Only our SYN so far: that window, scaled as the handshake says.
  const auto& tracker = live_->tracker();
  const uint8_t shift = in_syn && tracker.window_scaling() ? *tracker.local().window_scale : 0;
  const int window = wire >> shift;
  return uint16_t(window > 1 ? window - 1 : window);
}

// On a connection that negotiated timestamps every segment carries them (RFC 7323 §3.2): a
// strict peer drops one without, and its silence would read as a deviation.
Result<void> CaseRunner::inject(uint8_t flags, uint32_t seq, uint32_t ack_number, std::vector<uint8_t> payload) {
  TcpOptions options = live_ ? live_->tracker().timestamp_echo_for_remote().value_or(TcpOptions{}) : TcpOptions{};
  last_sent_ns_ = realtime_ns();  // before it leaves: nothing received earlier can answer it
  awaiting_departure_ = true;
  departed_ns_ = 0;
  auto spec = send_stray_segment(sender_, tuple_.local, tuple_.local_port, tuple_.remote, tuple_.remote_port, flags, seq,
                                 ack_number, std::move(payload), options, our_window());
  if (!spec) return tl::unexpected(spec.error());
  crafted_.push_back(*spec);
  return {};
}

Result<std::vector<StraySegment>> CaseRunner::collect(bool stop_early, std::optional<Clock::time_point> until) {
  std::vector<StraySegment> answers;
  auto deadline = until.value_or(Clock::now() + t_.timeout);
  for (;;) {
    auto s = live_->next(deadline, cancel_fd_);
    if (!s) return tl::unexpected(s.error());
    if (!*s) return answers;
    note(**s);
    if ((*s)->direction != Direction::inbound) continue;
    // Received before our segment left (read from the capture only now): no answer to it. A copy
    // the network made of an earlier ACK, read after the send, passed for the answer; so did one
    // that came between send() and the wire.
    if ((*s)->time_ns < last_sent_ns_) continue;
    if (awaiting_departure_ && (*s)->time_ns < last_sent_ns_ + kDepartureUnseenNs) continue;
    // A copy of an answer this wait already has is no second answer. (The tracker's duplicate
    // flag alone is not enough: a stack may repeat its last ACK to the letter within the same
    // millisecond, and then it is the answer.)
    const StraySegment& last = run_.segments.back();
    // The peer's SYN/ACK again: it did not hear our handshake ACK. No answer to anything; after
    // the stray segment it shows that the segment met a half-open connection.
    if (is_handshake_repeat(**s)) {
      run_.seen.handshake_unconfirmed = run_.seen.handshake_unconfirmed || injected_;
      continue;
    }
    // A copy proven by its IPv4 ID is none either, wherever its original came: a copy of the
    // peer's ACK of our FIN, delayed past our crafted FIN, passed for its answer.
    if ((*s)->duplicate && ((*s)->copy_proven || std::any_of(answers.begin(), answers.end(), [&](const StraySegment& a) {
          return a.flags == last.flags && a.seq == last.seq && a.ack == last.ack && a.window == last.window &&
                 a.payload_length == last.payload_length;
        }))) {
      ++run_.seen.duplicates;
      continue;
    }
    // A copy of a segment the peer sent before ours left, delayed past it (its IPv4 ID is no
    // proof when the stack sends 0): by its TSval, or undecidable.
    switch (earlier_copy(**s, recent_inbound_, last_departure_ns(), peer_clock_, copies_seen_)) {
      case EarlierCopy::copy: ++run_.seen.duplicates; continue;
      case EarlierCopy::ambiguous: ++run_.seen.ambiguous_copies; continue;
      case EarlierCopy::no: break;
    }
    answers.push_back(last);
    // The peer's own data or FIN is no answer: the wait for one goes on.
    if (stop_early && !answers.back().peer_own) deadline = std::min(deadline, Clock::now() + kGrace);
  }
}

// The peer's receive window, as the tracker scales it (never in a SYN/ACK).
uint32_t CaseRunner::peer_window() const { return live_->tracker().remote_window(); }

// A case that expects an ACK and drew nothing at all: the same segment once more, kRetryAfter
// after the first, so that a rate limit or a lost segment is not taken for the stack's silence.
// What arrives before the second try is a late answer to the first.
Result<void> CaseRunner::retry(const std::vector<uint8_t>& payload, Clock::time_point sent_at) {
  if (answer() != StrayAnswer::ack || !run_.seen.answers.empty() || cancelled()) return {};
  auto late = collect(true, std::max(Clock::now(), sent_at + kRetryAfter));
  if (!late) return tl::unexpected(late.error());
  if (!late->empty() || cancelled()) {
    run_.seen.answers = std::move(*late);
    return {};
  }
  auto more = send_and_collect(run_.probe, payload);
  if (!more) return tl::unexpected(more.error());
  run_.seen.retry_sent_ns = last_departure_ns();
  run_.seen.retried = true;
  run_.seen.retry_answers = std::move(*more);
  return {};
}

// Waits until the peer's clock has surely moved on since its latest segment (kTickNs).
void CaseRunner::pace() const {
  const TrackedSegment* last = last_inbound();
  if (!last) return;
  const int64_t since = realtime_ns() - last->time_ns;
  if (since >= 0 && since < kTickNs) std::this_thread::sleep_for(std::chrono::nanoseconds(kTickNs - since));
}

Result<std::vector<StraySegment>> CaseRunner::send_and_collect(const StrayProbe& p, std::vector<uint8_t> payload) {
  pace();
  if (auto r = inject(p.flags, p.seq, p.ack, std::move(payload)); !r) return tl::unexpected(r.error());
  return collect(true);
}

// Leave nothing half-open at the peer: an exact RST at whatever it acked last.
void CaseRunner::cleanup() {
  // Our crafted segments repeat sequence space on purpose: only the peer's retransmissions count.
  if (live_ && live_->tracker().remote().retransmissions > 0) run_.path_loss = true;
  const TrackedSegment* last = last_inbound();
  if (live_ && last && !(last->flags & rst) && (last->flags & ack) &&
      (stray_case_info(id_).group == StrayGroup::live || id_ == StrayCase::tw_syn || !peer_in_time_wait_)) {
    const uint32_t at = last->ack;
    if (inject(rst, at, 0)) {
      // Shown with -v, though no capture reads it any more.
      StraySegment reset;
      reset.outbound = reset.crafted = true;
      reset.time_ns = realtime_ns();
      reset.flags = rst;
      reset.seq = at;
      run_.segments.push_back(reset);
    }
  }
  abort_close(socket_);
}

// Connects and brings the connection to the state the case needs; false (with the reason in
// run_) when that did not happen.
Result<bool> CaseRunner::set_up() {
  auto connected = connect_and_follow();
  if (!connected || !*connected) return connected;
  if (stray_case_info(id_).group == StrayGroup::time_wait) return reach_time_wait();
  if (!t_.prime.empty()) {
    auto primed = prime();
    if (!primed || !*primed) return primed;
  }
  return wait_quiet();
}

// Sends StrayTarget::prime through our kernel and waits for the peer's ACK of it: then the peer
// has taken the connection (a half-open entry of a listener that defers accept is turned into
// one by data). What the peer says in reply, the quiet wait after it absorbs.
Result<bool> CaseRunner::prime() {
  const uint32_t acked = *live_->tracker().exact_next_seq() + uint32_t(t_.prime.size());
  const ssize_t n = ::send(socket_.get(), t_.prime.data(), t_.prime.size(), MSG_NOSIGNAL);
  if (n < 0) return fail_errno("send the priming bytes", errno);
  const std::string what = "the peer did not ack the " + std::to_string(t_.prime.size()) +
                           " bytes sent to show that it took the connection";
  if (size_t(n) != t_.prime.size()) return problem_flag(what);
  auto got = wait_segment([&](const TrackedSegment& s) {
    return s.direction == Direction::inbound && ((s.flags & rst) || ((s.flags & ack) && int32_t(s.ack - acked) >= 0));
  }, Clock::now() + std::max<Clock::duration>(t_.timeout, kPrimeAckWait));
  if (!got) return tl::unexpected(got.error());
  if (!*got) return problem_flag(what);
  if ((*got)->flags & rst) return problem_flag("the peer reset the connection on the bytes sent to show that it took it");
  run_.primed = true;
  return true;
}

// Where the peer's sequence space stands once the connection is ready.
CaseRunner::Edges CaseRunner::edges() const {
  const ConnectionTracker& tr = live_->tracker();
  Edges e;
  e.rcv_nxt = *tr.exact_next_seq();
  e.snd_nxt = *tr.ack_for_remote();
  e.window = peer_window();
  e.half = std::max<uint32_t>(1, e.window / 2);
  return e;
}

// Places the case's segment against the peer's edges: run_.probe, run_.sent and the payload.
Result<void> CaseRunner::aim_probe(const Edges& e, std::vector<uint8_t>& payload) {
  StrayProbe& p = run_.probe;
  switch (id_) {
    case StrayCase::live_rst_exact:
      p.flags = rst, p.seq = e.rcv_nxt;
      run_.sent = "R seq=RCV.NXT, then P. 1 byte at RCV.NXT ack=SND.NXT-1000";
      break;
    case StrayCase::live_rst_in_window:
      p.flags = rst, p.seq = e.rcv_nxt + e.half;
      run_.sent = "R " + plus("seq=RCV.NXT", e.half);
      break;
    case StrayCase::live_rst_out_of_window:
      p.flags = rst, p.seq = e.rcv_nxt + e.window + kBeyond;
      run_.sent = "R " + plus("seq=RCV.NXT", int64_t(e.window) + kBeyond) + ", then . at the same seq";
      break;
    case StrayCase::live_syn:
      p.flags = syn, p.seq = e.rcv_nxt + e.half;
      run_.sent = "S " + plus("seq=RCV.NXT", e.half);
      break;
    case StrayCase::live_ack_unsent:
      p.flags = ack, p.seq = e.rcv_nxt, p.ack = e.snd_nxt + kBeyond;
      run_.sent = ". seq=RCV.NXT " + plus("ack=SND.NXT", kBeyond);
      break;
    case StrayCase::live_data_old:
      p.flags = uint8_t(psh | ack), p.seq = e.rcv_nxt - kOldData, p.payload_length = kOldDataLength;
      payload.assign(kOldDataLength, uint8_t('x'));
      run_.sent = "P. " + plus("seq=RCV.NXT", -int64_t(kOldData)) + " ack=SND.NXT len=" + std::to_string(kOldDataLength);
      break;
    case StrayCase::live_fin_exact:
      p.flags = uint8_t(fin | ack), p.seq = e.rcv_nxt;
      run_.sent = "F. seq=RCV.NXT ack=SND.NXT";
      break;
    case StrayCase::live_fin_out_of_window:
      p.flags = uint8_t(fin | ack), p.seq = e.rcv_nxt + e.window + kBeyond;
      run_.sent = "F. " + plus("seq=RCV.NXT", int64_t(e.window) + kBeyond) + " ack=SND.NXT";
      break;
    case StrayCase::tw_fin_retransmit:
      p.flags = uint8_t(fin | ack), p.seq = *live_->tracker().local().fin_seq;
      run_.sent = "F. seq=our FIN (RCV.NXT-1) ack=SND.NXT";
      break;
    case StrayCase::tw_rst:
      p.flags = rst, p.seq = e.rcv_nxt;
      run_.sent = "R seq=RCV.NXT, then F. seq=our FIN";
      break;
    case StrayCase::tw_syn:
      p.flags = syn, p.seq = e.rcv_nxt + kBeyond;
      run_.sent = "S " + plus("seq=RCV.NXT", kBeyond);
      break;
    default: return fail(ErrorCode::bad_input, std::string(stray_case_info(id_).name) + " is not a connection case");
  }
  if (!(p.flags & ack)) p.ack = 0;
  return {};
}

// Three cases tell their outcome by what the next segment draws: data after an exact RST, our
// FIN again after an RST to the TIME_WAIT, and after an out-of-window RST a pure ACK at the same
// seq. That ACK must draw the duplicate ACK: proof that out-of-window segments reach the peer's
// stack (a firewall's conntrack drops them as invalid, and the RST's silence would be its), and
// that the connection outlived the RST.
Result<void> CaseRunner::follow_up(const Edges& e) {
  if (id_ != StrayCase::live_rst_exact && id_ != StrayCase::tw_rst && id_ != StrayCase::live_rst_out_of_window)
    return {};
  StrayProbe& f = run_.seen.follow_up;
  f.peer_rcv_nxt = e.rcv_nxt;
  f.peer_snd_nxt = e.snd_nxt;
  f.ack = e.snd_nxt;
  std::vector<uint8_t> byte;
  if (id_ == StrayCase::live_rst_exact) {
    // Its ack is kOldAck below SND.NXT, an old duplicate that a live connection takes with the
    // data (RFC 9293 3.10.7.4, inside RFC 5961 5.2's range). At SND.NXT it would be a valid SYN
    // cookie of a peer that has sent nothing but its SYN/ACK: a listener answering with cookies
    // (tcp_syncookies=2, or a SYN flood) made a new connection of it, so a connection the RST had
    // reset looked alive.
    f.ack = e.snd_nxt - kOldAck;
    f.flags = uint8_t(psh | ack), f.seq = e.rcv_nxt, f.payload_length = 1;
    byte.assign(1, uint8_t('x'));
  } else if (id_ == StrayCase::live_rst_out_of_window) {
    f.flags = ack, f.seq = run_.probe.seq;
  } else {
    f.flags = uint8_t(fin | ack), f.seq = *live_->tracker().local().fin_seq;
  }
  const auto sent_at = Clock::now();
  auto more = send_and_collect(f, byte);
  if (!more) return tl::unexpected(more.error());
  run_.seen.follow_up_sent = true;
  run_.seen.follow_up_answers = std::move(*more);
  if (id_ != StrayCase::live_rst_out_of_window || cancelled()) return {};
  // The duplicate ACK is rate-limited per connection (Linux: net.ipv4.tcp_invalid_ratelimit) and
  // may be lost: a silent ACK is sent once more, kRetryAfter after the first.
  const auto& got = run_.seen.follow_up_answers;
  if (std::any_of(got.begin(), got.end(), [](const StraySegment& s) { return !s.peer_own; })) return {};
  auto late = collect(true, std::max(Clock::now(), sent_at + kRetryAfter));
  if (!late) return tl::unexpected(late.error());
  if (late->empty() && !cancelled()) late = send_and_collect(f);
  if (!late) return tl::unexpected(late.error());
  run_.seen.follow_up_answers.insert(run_.seen.follow_up_answers.end(), late->begin(), late->end());
  return {};
}

// A live case answered by a reset: does the connection live? One byte at RCV.NXT (with an old
// ack, as live-rst-exact's follow-up, never a valid SYN cookie): a live connection acks it (or,
// having sent no data, answers its old ack with a challenge ACK), one that is gone resets it.
// (live-rst-exact's own follow-up is that test already.)
Result<void> CaseRunner::life_check(const Edges& e) {
  if (stray_case_info(id_).group != StrayGroup::live || id_ == StrayCase::live_rst_exact || cancelled() ||
      !stray_drew_reset(run_.seen))
    return {};
  StrayProbe& f = run_.seen.life_check;
  f.peer_rcv_nxt = e.rcv_nxt;
  f.peer_snd_nxt = e.snd_nxt;
  f.flags = uint8_t(psh | ack), f.seq = e.rcv_nxt, f.ack = e.snd_nxt - kOldAck, f.payload_length = 1;
  auto answers = send_and_collect(f, std::vector<uint8_t>(1, uint8_t('x')));
  if (!answers) return tl::unexpected(answers.error());
  run_.seen.life_check_sent = true;
  run_.seen.life_check_answers = std::move(*answers);
  return {};
}

// tw-rst and tw-syn: our FIN once more, just before the stray segment. Only a TIME_WAIT acks it
// (a peer that kept none resets it), so its answer shows there is a TIME_WAIT to test.
Result<void> CaseRunner::pre_check(const Edges& e) {
  if (id_ != StrayCase::tw_rst && id_ != StrayCase::tw_syn) return {};
  StrayProbe& f = run_.seen.pre_check;
  f.peer_rcv_nxt = e.rcv_nxt;
  f.peer_snd_nxt = e.snd_nxt;
  f.flags = uint8_t(fin | ack), f.seq = *live_->tracker().local().fin_seq, f.ack = e.snd_nxt;
  const uint64_t ambiguous_before = run_.seen.ambiguous_copies;
  auto answers = send_and_collect(f);
  if (!answers) return tl::unexpected(answers.error());
  run_.seen.pre_check_sent = true;
  run_.seen.pre_check_ambiguous = run_.seen.ambiguous_copies - ambiguous_before;
  run_.seen.pre_check_answers = std::move(*answers);
  return {};
}

Result<StrayRun> CaseRunner::run() {
  auto ready = set_up();
  if (!ready) return tl::unexpected(ready.error());
  if (!*ready) {
    cleanup();
    if (live_) run_.rejected = live_->rejected();
    return std::move(run_);
  }
  const Edges e = edges();
  StrayProbe& p = run_.probe;
  p.peer_rcv_nxt = e.rcv_nxt;
  p.peer_snd_nxt = e.snd_nxt;
  p.ack = e.snd_nxt;
  if (id_ == StrayCase::live_rst_in_window && e.window < 2)
    return problem("the peer advertises a window too small for an in-window, non-exact RST");
  std::vector<uint8_t> payload;
  if (auto r = aim_probe(e, payload); !r) return tl::unexpected(r.error());
  if (auto r = pre_check(e); !r) return tl::unexpected(r.error());
  const RejectCounts before = live_->rejected();  // the setup's are no evidence about the answer
  const auto sent_at = Clock::now();
  injected_ = true;
  pace();
  if (auto r = inject(p.flags, p.seq, p.ack, payload); !r) return tl::unexpected(r.error());
  auto answers = collect(answer() != StrayAnswer::silence);
  if (!answers) return tl::unexpected(answers.error());
  run_.seen.answers = std::move(*answers);
  run_.seen.probe_sent_ns = last_departure_ns();
  if (const auto info = socket_tcp_info(socket_.get())) {
    run_.seen.rtt_ns = int64_t(info->tcpi_rtt) * 1000;
    run_.seen.rto_ns = int64_t(info->tcpi_rto) * 1000;
  }
  if (const auto min_rtt = socket_min_rtt_us(socket_.get())) run_.seen.min_rtt_ns = int64_t(*min_rtt) * 1000;
  if (auto r = retry(payload, sent_at); !r) return tl::unexpected(r.error());
  if (auto r = follow_up(e); !r) return tl::unexpected(r.error());
  if (auto r = life_check(e); !r) return tl::unexpected(r.error());
  if (set_aside_own_resets(id_, run_.seen) > 0) mark_own_segments();
  note_resets_between_waits();
  run_.seen.capture_drops = live_->capture_drops();
  run_.rejected = live_->rejected();
  for (size_t i = 0; i < kRejectReasonCount; ++i)
    run_.seen.rejected.by_reason[i] = run_.rejected.by_reason[i] - before.by_reason[i];
  cleanup();
  return std::move(run_);
}

}  // namespace

bool stray_group_needs_guard(StrayGroup group) { return group == StrayGroup::time_wait; }

Result<StrayRun> run_connection_case(StrayCase id, const StrayTarget& target, RawSender& sender, int cancel_fd) {
  const auto group = stray_case_info(id).group;
  if (group != StrayGroup::live && group != StrayGroup::time_wait)
    return fail(ErrorCode::bad_input, std::string(stray_case_info(id).name) + " is not a connection case");
  CaseRunner runner(id, target, sender, cancel_fd);
  return runner.run();
}

}  // namespace tcpkit
