#include "tcpkit/probe/connection_trace.hpp"

#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "tcpkit/io/error_queue.hpp"
#include "tcpkit/io/tcp_info.hpp"
#include "tcpkit/probe/live_connection.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/probe/socket_lookup.hpp"
#include "tcpkit/sockets/state_edges.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/io/wake_event.hpp"
#include "tcpkit/wire/segment.hpp"

namespace tcpkit {

namespace {

using Clock = std::chrono::steady_clock;

// recv() drains the socket in chunks of this size; only the byte count is kept.
constexpr size_t kReadChunk = 4096;
// Capture waits between looks at the socket: short until our first move after the handshake
// (data, FIN, RST), since that wait was most of "ESTABLISHED"; longer once we acted.
constexpr auto kEagerWait = std::chrono::microseconds(250);
constexpr auto kActedWait = std::chrono::microseconds(5000);
// After the close, a few RTTs for stragglers (retransmissions), at least 200 ms.
constexpr auto kMinQuiet = std::chrono::nanoseconds(200'000'000);
constexpr int64_t kQuietRtts = 4;
// In TIME_WAIT our ACK of the peer's FIN was the last segment: if it is lost the peer sends its
// FIN again after its retransmission timeout, 200 ms at least on Linux (300 ms on Windows), a
// little after the 200 ms quiet above ran out (the trace ended, the peer drawn CLOSED in LAST_ACK).
// The quiet there is 400 ms longer: at least 600 ms.
constexpr auto kTimeWaitQuiet = std::chrono::nanoseconds(600'000'000);

// Whether the kernel still holds the connection (an RST or a timeout closes it; a reported ICMP
// error does not).
bool connection_lives(int fd) {
  const auto info = socket_tcp_info(fd);
  return info && info->tcpi_state != TCP_CLOSE;
}

bool readable_eof_or_data(int fd, uint64_t& received, bool& eof) {
  char buffer[kReadChunk];
  // An ICMP error about our data is reported once by recv() (IP_RECVERR, set for connect's
  // sake) while the connection lives on: no end of it (found: --close peer then closed first
  // at once, and the peer was drawn CLOSE_WAIT). A few at most, then what is left is read.
  constexpr int kMostReportedErrors = 16;
  int reported = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      received += uint64_t(n);
      continue;
    }
    if (n == 0) eof = true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && reported < kMostReportedErrors && connection_lives(fd)) {
      ++reported;
      continue;
    }
    return n == 0 || errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// SO_LINGER 0: close() sends an RST, never a FIN.
void abort_close(UniqueFd& sock) {
  const linger abort_linger{1, 0};
  setsockopt(sock.get(), SOL_SOCKET, SO_LINGER, &abort_linger, sizeof abort_linger);
  sock.reset();
}

// An RST that closes: the close kind names it.
// An RST from a side already CLOSED (by the state before it) answers a stray segment, a late
// or duplicated one: it closed nothing.
bool closing_reset(const std::vector<TraceEvent>& events, size_t i) {
  const TrackedSegment& s = events[i].segment;
  if (!(s.flags & tcp_flag::rst) || s.answers_rejected) return false;
  if (i == 0) return true;
  const TraceEvent& before = events[i - 1];
  // Ours: the kernel's word where it was read (the capture's state machine can go astray under
  // heavy reordering: our kernel's RST to a copy of the peer's last ACK, from CLOSE, read as
  // "reset by us").
  const TcpState ours = before.local_state_read ? before.local_state : before.segment.local_state_inferred;
  const TcpState sender = s.direction == Direction::outbound ? ours : before.segment.remote_state_inferred;
  return sender != TcpState::close;
}


// Data by its length, not its flags (found: "the peer retransmitted ACK" for 1448 bytes).
std::string retransmission_note(const TrackedSegment& segment, bool raw_seq) {
  const std::string what =
      segment.payload_length
          ? std::to_string(segment.payload_length) + " bytes" + ((segment.flags & tcp_flag::fin) ? " and its FIN" : "")
          : flags_names(segment.flags);
  return std::string(segment.direction == Direction::inbound ? "the peer" : "we") + " retransmitted " + what + " (seq " +
         std::to_string(raw_seq ? segment.seq : segment.relative_seq) + ")";
}

// Bound first: the capture must know our port before the SYN leaves.
Result<UniqueFd> open_bound_socket(const TraceConfig& config, const Route& route, uint32_t scope) {
  UniqueFd sock(::socket(config.destination.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return fail_errno("TCP socket", errno);
  if (!config.interface.empty() && setsockopt(sock.get(), SOL_SOCKET, SO_BINDTODEVICE, config.interface.c_str(),
                                              socklen_t(config.interface.size())) < 0)
    return fail_errno("bind to interface '" + config.interface + "'", errno);
  // An ICMP error that fails connect() is queued with its type, code and sender (read_queued_icmp).
  const int on = 1;
  if (config.destination.is_v4()) setsockopt(sock.get(), SOL_IP, IP_RECVERR, &on, sizeof on);
  else setsockopt(sock.get(), SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  socklen_t length = 0;
  sockaddr_storage local = route.source.to_sockaddr(config.source_port.value_or(0), &length, scope);
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&local), length) < 0)
    return fail_errno("bind " + route.source.to_string_with_port(config.source_port.value_or(0)), errno);
  return sock;
}

Result<void> start_connect(int fd, const TraceConfig& config, uint32_t scope) {
  socklen_t length = 0;
  const sockaddr_storage remote = config.destination.to_sockaddr(config.port, &length, scope);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&remote), length) < 0 && errno != EINPROGRESS)
    return fail_errno("connect to " + config.destination.to_string_with_port(config.port), errno);
  return {};
}

// One connection walked from connect() to its quiet end: each captured segment is recorded with
// our kernel's state, and between segments our socket takes its next step (handshake, data,
// close) once what came before allows it.
class TraceRun {
 public:
  TraceRun(const TraceConfig& config, int cancel_fd, UniqueFd& sock, LiveConnection& live, uint32_t scope,
           Clock::time_point start, TraceResult& result)
      : config_(config), cancel_fd_(cancel_fd), sock_(sock), live_(live), scope_(scope), start_(start),
        limit_(start + config.limit), last_segment_(start), result_(result),
        data_written_(config.send_data.empty()) {}

  // Until closed and quiet, refused and quiet, unanswered, interrupted or out of time.
  Result<void> walk() {
    for (;;) {
      const auto now = Clock::now();
      if (out_of_time(now) || cancelled()) return {};
      // Eager again once the peer's FIN came while we wait for it (--close peer): our FIN then
      // follows within a fraction of a millisecond, not a whole acted wait.
      const bool peer_fin_to_answer = peer_fin_seen_ && !close_started_;
      const auto wait = (acted_ || refused_) && !peer_fin_to_answer ? kActedWait : kEagerWait;
      auto segment = live_.next(std::min(limit_, now + wait), cancel_fd_);
      if (!segment) return tl::unexpected(segment.error());
      for (const auto& icmp : live_.take_icmp_errors()) record_icmp(icmp);
      if (*segment) {
        record(**segment);
        continue;  // drain everything queued before acting
      }
      if (!connected_ && !refused_ && sock_.get() >= 0 && !await_connect()) return {};
      if (refused_) {
        if (quiet()) return {};
        continue;
      }
      if (!connected_) continue;
      exchange_data();
      if (!close_started_) {
        start_close();
        continue;
      }
      if (closed_and_quiet()) return {};
    }
  }

  // How connect() failed: "refused", "unreachable" or "failed"; empty when it did not.
  const std::string& connect_failure() const { return connect_failure_; }
  bool saw_closing() const { return saw_closing_; }
  bool connected() const { return connected_; }
  std::optional<TraceEvent>& cleanup() { return cleanup_; }
  // What of --send never went: a note, as the byte count alone does not say it was cut.
  std::optional<std::string> unsent_note() const {
    const size_t size = config_.send_data.size();
    if (result_.bytes_sent == size) return std::nullopt;
    return "sent " + std::to_string(result_.bytes_sent) + " of the " + std::to_string(size) + " bytes of --send: " +
           (send_error_ ? std::string("send: ") + std::strerror(send_error_)
                        : std::string("the rest was never taken (the peer's window stayed closed, or the "
                                      "connection or the time limit ended first)"));
  }

 private:
  bool out_of_time(Clock::time_point now) {
    if (now < limit_) return false;
    result_.outcome = "time limit";
    result_.notes.push_back("stopped at the time limit");
    // Data or a FIN of ours still unacknowledged would be sent again for minutes after we are
    // gone (found: an orphan in FIN_WAIT1 still retransmitting): an RST ends it with us.
    if (sock_.get() >= 0 && !data_acked()) {
      abort_close(sock_);
      record_our_reset();
      result_.notes.push_back("our data or FIN was still unacknowledged: the connection was reset, not left to "
                              "retransmit after tcpprobe ended");
    }
    return true;
  }

  // The RST an abort sent, on the trace like every segment (found: the capture ended with our
  // RST+ACK, the trace one segment before it). A short wait: it leaves at once.
  void record_our_reset() {
    constexpr auto kResetLeaves = std::chrono::milliseconds(50);
    const auto until = Clock::now() + kResetLeaves;
    for (;;) {
      auto segment = live_.next(until);
      for (const auto& icmp : live_.take_icmp_errors()) record_icmp(icmp);
      if (!segment || !*segment) return;
      record(**segment);
      if ((*segment)->direction == Direction::outbound && ((*segment)->flags & tcp_flag::rst)) {
        cleanup_ = result_.events.back();  // judged apart: see cleanup()
        cleanup_->cleanup_reset = true;
        result_.events.pop_back();
        return;
      }
    }
  }

  bool cancelled() {
    if (!cancel_requested(cancel_fd_)) return false;
    result_.outcome = "interrupted";
    // Abort, never a FIN: a FIN would leave the peer in CLOSE_WAIT and us half-closed.
    if (sock_.get() >= 0) {
      abort_close(sock_);
      if (connected_) record_our_reset();
    }
    return true;
  }

  void record(const TrackedSegment& segment) {
    TraceEvent event;
    event.segment = segment;
    read_local_state(event);
    if (event.local_state == TcpState::closing) saw_closing_ = true;
    if (event.local_state_read) current_ = event.local_state;
    const bool inbound = segment.direction == Direction::inbound;
    if (inbound && is_syn_ack(segment.flags) && peer_reset_seen_ && !segment.duplicate && !segment.retransmission)
      result_.notes.push_back("a SYN/ACK after the peer's RST: two parties answer for this address (a SYN proxy or "
                              "load balancer and the server behind it, or two hosts that both hold it)");
    time_handshake(event);
    if (segment.duplicate) ++result_.duplicates;
    if (inbound && (segment.flags & (tcp_flag::fin | tcp_flag::rst))) peer_fin_seen_ = true;
    if (inbound && (segment.flags & tcp_flag::rst)) peer_reset_seen_ = true;
    if (segment.retransmission && !segment.duplicate) result_.notes.push_back(retransmission_note(segment, config_.raw_seqs_in_notes));
    result_.events.push_back(event);
    last_segment_ = Clock::now();
  }

  // An ICMP error about one of our segments: kept, and said in words where it is on the trace.
  // A router's error for each segment of a burst makes one note, naming each segment.
  void record_icmp(const ConnectionIcmp& icmp) {
    if (result_.icmp_errors.size() >= kMostConnectionIcmp) return;
    const bool again = icmp_note_ && [&] {
      const ConnectionIcmp& last = result_.icmp_errors.back();
      return last.from == icmp.from && last.type == icmp.type && last.code == icmp.code && last.mtu == icmp.mtu;
    }();
    result_.icmp_errors.push_back(icmp);
    const auto quoted = config_.raw_seqs_in_notes ? icmp.raw_seq : icmp.seq;
    const std::string seq = quoted ? std::to_string(*quoted) : "?";
    if (again) {
      // Each segment once: several errors may quote one (a router's repeat, or our resend).
      auto& seqs = icmp_note_->seqs;
      if (std::find(seqs.begin(), seqs.end(), seq) == seqs.end()) seqs.push_back(seq);
    } else {
      icmp_note_ = IcmpNote{result_.notes.size(), "", {seq}, ""};
      icmp_note_->head = "ICMP " + icmp_description(icmp.v6, icmp.type, icmp.code) +
                         (icmp.mtu ? " (next-hop MTU " + std::to_string(*icmp.mtu) + ")" : "") + " from " +
                         icmp.from.to_string();
      if (!result_.events.empty())
        icmp_note_->head +=
            " at " + format_fixed(double(icmp.time_ns - result_.events.front().segment.time_ns) / 1e6, 3) + " ms";
      icmp_note_->head += ", about our segments at seq ";
      if (icmp.mtu)
        icmp_note_->tail = ": a link on the path carries at most " + std::to_string(*icmp.mtu) +
                           " bytes, so our kernel sends smaller segments again (path MTU discovery; those "
                           "retransmissions are not loss)";
      result_.notes.emplace_back();
    }
    std::string seqs;
    for (const auto& s : icmp_note_->seqs) seqs += (seqs.empty() ? "" : ", ") + s;
    result_.notes[icmp_note_->index] = icmp_note_->head + seqs + icmp_note_->tail;
  }

  void read_local_state(TraceEvent& event) {
    // Our kernel handles an arriving segment right after the capture tap: give it a moment.
    std::this_thread::sleep_for(config_.settle);
    const auto found = lookup_tcp_socket(result_.tuple, int(scope_));
    if (!found) return;
    event.local_state = *found ? (*found)->state : TcpState::close;
    event.local_state_read = true;
    event.local_state_read_ns = realtime_ns();
    // The timer of the TIME_WAIT we are in now; gone once it is over (an RST ends it early).
    if (*found && (*found)->state == TcpState::time_wait && (*found)->timer_ms)
      result_.time_wait_left_ms = (*found)->timer_ms;
    else
      result_.time_wait_left_ms.reset();
  }

  // SYN -> SYN/ACK and SYN -> ESTABLISHED, from the first segment (our SYN). A SYN/ACK after
  // the peer's RST or FIN completes no handshake (found: a refused connection's trace timed one).
  void time_handshake(const TraceEvent& event) {
    const TrackedSegment& segment = event.segment;
    if (segment.direction == Direction::inbound && is_syn_ack(segment.flags) && !peer_fin_seen_ &&
        !result_.syn_to_synack_ns && !result_.events.empty())
      result_.syn_to_synack_ns = segment.time_ns - result_.events.front().segment.time_ns;
    if (event.local_state == TcpState::established && !result_.syn_to_established_ns && !result_.events.empty())
      result_.syn_to_established_ns = segment.time_ns - result_.events.front().segment.time_ns;
  }

  // Whether connect() finished (connected or refused); false when the SYN/ACK never came.
  bool await_connect() {
    pollfd p{sock_.get(), POLLOUT, 0};
    if (::poll(&p, 1, 0) > 0) {
      int error = 0;
      socklen_t len = sizeof error;
      getsockopt(sock_.get(), SOL_SOCKET, SO_ERROR, &error, &len);
      // ECONNRESET: the handshake was made and an RST ended the connection before this poll
      // (a server that aborts at once, sshd over MaxStartups): connected, then reset, not refused.
      if (error == 0 || error == ECONNRESET) {
        connected_ = true;
      } else {
        refused_ = true;
        result_.outcome = error == ECONNREFUSED ? "refused" : "failed";
        // An ICMP port unreachable fails connect() with ECONNREFUSED as an RST does; only it is queued.
        if (const auto icmp = read_queued_icmp(sock_.get())) {
          const bool v6 = icmp->origin == SO_EE_ORIGIN_ICMP6;
          result_.icmp = TraceResult::Icmp{v6, icmp->type, icmp->code, icmp->offender,
                                           icmp_description(v6, icmp->type, icmp->code)};
          result_.outcome = "unreachable";
          result_.notes.push_back("ICMP " + std::to_string(icmp->type) + "/" + std::to_string(icmp->code) + " " +
                                  result_.icmp->text + (icmp->offender ? " from " + icmp->offender->to_string() : ""));
        } else {
          result_.notes.push_back(std::string("connect: ") + std::strerror(error));
        }
        connect_failure_ = result_.outcome;
      }
    } else if (Clock::now() - start_ > config_.connect_timeout) {
      result_.outcome = "no answer";
      result_.notes.push_back("no SYN/ACK within the connect timeout");
      return false;
    }
    return true;
  }

  // Our data, as much as the socket takes each time round, then whatever the peer sent (counted,
  // and its FIN or RST seen). Found: one send() of 120 kB took 78 kB, and the rest was never
  // sent, silently.
  void exchange_data() {
    if (!data_written_ && sock_.get() < 0) data_written_ = true;  // closed before all went: unsent_note says it
    if (!data_written_) {
      const std::string& data = config_.send_data;
      const size_t sent = size_t(result_.bytes_sent);  // written so far: --send's own count
      const ssize_t n = ::send(sock_.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        result_.bytes_sent += uint64_t(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        send_error_ = errno;
      }
      data_written_ = result_.bytes_sent == data.size() || send_error_ != 0;
      acted_ = true;
    }
    if (config_.close == CloseMode::peer) acted_ = true;  // nothing of ours to hurry: the peer moves
    if (sock_.get() >= 0 && !peer_eof_ && !readable_eof_or_data(sock_.get(), result_.bytes_received, peer_eof_)) {
      peer_eof_ = true;  // an error (RST): nothing more to read
    }
  }

  // The close the config asks for, once its moment has come.
  void start_close() {
    if (config_.close == CloseMode::peer) {
      if (peer_eof_) {
        sock_.reset();  // our FIN after the peer's: CLOSE_WAIT -> LAST_ACK (what was not sent, is noted)
        close_started_ = true;
        return;
      }
      if (!data_written_) return;  // the wait for the peer's close starts once all our data went
      if (!eof_wait_until_) eof_wait_until_ = Clock::now() + config_.peer_close_timeout;
      if (Clock::now() >= *eof_wait_until_) {
        result_.notes.push_back("the peer did not close within the wait; we closed first");
        ::shutdown(sock_.get(), SHUT_WR);
        close_started_ = true;
      }
      return;
    }
    if (!data_written_ || !data_acked()) return;  // our FIN after all our data
    acted_ = true;
    if (config_.close == CloseMode::reset) abort_close(sock_);
    else ::shutdown(sock_.get(), SHUT_WR);  // our FIN; keep the descriptor to read the rest
    close_started_ = true;
  }

  // Our kernel's word, not the capture's: the tracker may not have seen our data leave yet, and
  // then took it for acked (our FIN left 30 us after the data, 6 ms before its ACK).
  // A connection the kernel closed (an RST) has nothing left to wait for, though SIOCOUTQ still
  // counts what it never got acked.
  bool data_acked() const {
    int unacked = 0;  // bytes written and not yet acked (SIOCOUTQ: write_seq - snd_una)
    return sock_.get() < 0 || !connection_lives(sock_.get()) || ::ioctl(sock_.get(), SIOCOUTQ, &unacked) != 0 ||
           unacked == 0;
  }

  bool closed_and_quiet() {
    if (sock_.get() >= 0 && peer_eof_) sock_.reset();  // both FINs exchanged or reset: done with it
    const bool finished = current_ && (*current_ == TcpState::time_wait || *current_ == TcpState::close);
    if ((finished || config_.close == CloseMode::reset) && quiet()) {
      result_.outcome = "closed";
      return true;
    }
    return false;
  }

  // No segment for a few RTTs: stragglers (retransmissions) had their chance.
  bool quiet() const {
    const int64_t rtt = result_.syn_to_synack_ns.value_or(0);
    const auto extra = current_ == TcpState::time_wait ? kTimeWaitQuiet - kMinQuiet : std::chrono::nanoseconds(0);
    return Clock::now() - last_segment_ > std::max(kMinQuiet, std::chrono::nanoseconds(kQuietRtts * rtt)) + extra;
  }

  const TraceConfig& config_;
  const int cancel_fd_;
  UniqueFd& sock_;
  LiveConnection& live_;
  const uint32_t scope_;
  const Clock::time_point start_, limit_;
  Clock::time_point last_segment_;
  TraceResult& result_;
  bool connected_ = false, refused_ = false, data_written_;
  std::string connect_failure_;
  std::optional<TraceEvent> cleanup_;  // our RST at the time limit or on Ctrl-C
  int send_error_ = 0;  // errno of a send() that failed for good
  bool acted_ = false;  // our first move after the handshake is done: no more eager waits
  bool close_started_ = false, peer_eof_ = false, saw_closing_ = false;
  bool peer_fin_seen_ = false;  // the peer's FIN (or RST) was recorded
  bool peer_reset_seen_ = false;  // ... its RST
  // The note of the latest ICMP error, to which the same error about later segments adds.
  struct IcmpNote {
    size_t index = 0;
    std::string head;
    std::vector<std::string> seqs;  // each quoted segment once
    std::string tail;
  };
  std::optional<IcmpNote> icmp_note_;
  std::optional<Clock::time_point> eof_wait_until_;
  std::optional<TcpState> current_;  // our state as the kernel last gave it
};

// Close duration: from the first FIN or RST to the last segment.
std::optional<int64_t> close_duration(const std::vector<TraceEvent>& events) {
  for (const auto& e : events)
    if ((e.segment.flags & (tcp_flag::fin | tcp_flag::rst)) && !e.segment.answers_rejected)
      return events.back().segment.time_ns - e.segment.time_ns;
  return std::nullopt;
}

void note_late_reset(TraceResult& result) {
  for (size_t i = 0; i < result.events.size(); ++i) {
    const auto& s = result.events[i].segment;
    if ((s.flags & tcp_flag::rst) && !s.answers_rejected && !closing_reset(result.events, i)) {
      result.notes.push_back(std::string(s.direction == Direction::inbound ? "the peer" : "our kernel") +
                             " sent an RST after its side had closed: the answer to a segment that met no "
                             "connection (sent before the first RST arrived, or late, or duplicated)");
      return;
    }
  }
}

// A SYN/ACK with a zero window (netfilter SYNPROXY's), then the peer's RST before any data of its
// own: the proxy made the handshake, and its server had nothing listening.
bool proxied_reset(const std::vector<TraceEvent>& events) {
  bool zero_window_synack = false;
  for (const auto& e : events) {
    const TrackedSegment& s = e.segment;
    if (s.direction != Direction::inbound) continue;
    if ((s.flags & (tcp_flag::syn | tcp_flag::ack)) == (tcp_flag::syn | tcp_flag::ack)) {
      zero_window_synack = s.window == 0;
      continue;
    }
    if (s.payload_length) return false;
    if (s.flags & tcp_flag::rst) return zero_window_synack;
  }
  return false;
}

// The verdicts, from the events alone once the walk is over.
void conclude(TraceResult& result, const TraceConfig& config, const std::string& connect_failure, bool saw_closing) {
  const bool refused = !connect_failure.empty();
  resolve_late_state_reads(result.events);
  // A state read too late to see ESTABLISHED (an RST right after the handshake) is resolved only now.
  if (!result.syn_to_established_ns && !refused && !result.events.empty())
    for (const auto& e : result.events)
      if (e.local_state == TcpState::established) {
        result.syn_to_established_ns = e.segment.time_ns - result.events.front().segment.time_ns;
        break;
      }
  settle_peer_states(result.events);
  const HandshakeRefusal refusal = refused ? HandshakeRefusal::none : settle_unaccepted_handshake(result.events);
  // Where the handshake was never taken, its settling says what the peer was; else our FIN's fate.
  const UnackedFin fin = refusal == HandshakeRefusal::none ? settle_unacked_fin(result.events) : UnackedFin::acked;
  if (fin == UnackedFin::never)
    result.notes.push_back("nothing of the peer's acknowledged our FIN, sent again: it may never have arrived (lost, "
                           "or dropped on the way, as by a firewall that lost the connection's state), so the peer's "
                           "state after it is not known");
  else if (fin == UnackedFin::not_yet)
    result.notes.push_back("the trace ended before an ACK of our FIN came, so the peer's state after it is not known");
  if (refusal == HandshakeRefusal::none && !refused && settle_ignored_ack(result.events))
    result.notes.push_back("the peer sent its SYN/ACK again after our ACK: it had not taken that ACK and stayed in "
                           "SYN_RECV until a later one (a listener with TCP_DEFER_ACCEPT ignores a bare ACK until data "
                           "comes or its SYN/ACK timer runs out; a lost ACK looks the same)");
  result.local_states = state_spans(result.events);
  if (config.close != CloseMode::peer || !config.send_data.empty())
    result.own_delay_ns = own_delay_after_handshake(result.events);
  if (config.close == CloseMode::peer) result.own_close_delay_ns = own_close_delay(result.events);
  // connect() failed: by an RST ("refused"), an ICMP error ("unreachable") or else ("failed"), no close at all.
  result.close_kind = refused ? connect_failure : close_kind(result.events, saw_closing);
  if (result.close_kind == "reset by the peer" && proxied_reset(result.events))
    result.notes.push_back("the SYN/ACK had a zero window, a SYN proxy's mark, and the connection was reset before "
                           "any data came: the proxy's server refused the port, which is closed behind it");
  // A close with one FIN only did not end: its span is no close time (found: "close: 1 s" for
  // a peer that never sent its FIN, at the time limit).
  (result.close_kind == "half closed" ? result.unfinished_close_ns : result.close_ns) = close_duration(result.events);
  if (!refused) note_late_reset(result);  // the RST that refused the SYN is the answer itself
  if (refusal == HandshakeRefusal::synack_resent) {
    // Not "half closed": the peer never had the connection our FIN would half-close.
    if (result.close_kind == "half closed" || result.close_kind == "not closed")
      result.close_kind = "the peer never completed the handshake";
    result.notes.push_back("the peer sent its SYN/ACK again after our ACK, and nothing else: it never took that ACK "
                           "and never was ESTABLISHED (a listener whose accept queue is full drops the ACK; so does "
                           "a firewall that drops our ACKs)");
  } else if (refusal == HandshakeRefusal::ack_reset) {
    result.notes.push_back("the peer reset our ACK of its SYN/ACK: it never was ESTABLISHED (a listener whose accept "
                           "queue was full, with tcp_abort_on_overflow, or one that closed)");
  }
}

}  // namespace

std::string close_kind(const std::vector<TraceEvent>& events, bool saw_closing) {
  for (size_t i = 0; i < events.size(); ++i)
    if (closing_reset(events, i))
      return events[i].segment.direction == Direction::outbound ? "reset by us" : "reset by the peer";
  const TrackedSegment* first_fin = nullptr;
  const TrackedSegment* second_fin = nullptr;
  for (const auto& e : events) {
    if (!(e.segment.flags & tcp_flag::fin) || e.segment.retransmission || e.segment.duplicate) continue;
    if (!first_fin) first_fin = &e.segment;
    else if (e.segment.direction != first_fin->direction && !second_fin) second_fin = &e.segment;
  }
  if (!first_fin) return "not closed";
  if (!second_fin) return "half closed";
  // The second FIN did not ack the first: its sender had not had the first, so the FINs crossed,
  // whether or not a read of our state caught CLOSING (the peer's ACK of our FIN may come within
  // the read's settle time, and our state then reads TIME_WAIT at once).
  const bool crossed = !(second_fin->flags & tcp_flag::ack) ||
                       seq_lt(second_fin->ack, first_fin->seq + first_fin->payload_length + 1);
  if (saw_closing || crossed) return "simultaneous close";
  // Did the second FIN itself carry the first ACK of the first FIN?
  for (const auto& e : events) {
    const auto& s = e.segment;
    if (&s == second_fin) return "three-segment close (the second FIN carried the ACK of the first)";
    if (s.direction == second_fin->direction && (s.flags & tcp_flag::ack) && s.time_ns >= first_fin->time_ns &&
        seq_gt(s.ack, first_fin->seq + first_fin->payload_length))
      return "four-way close";
  }
  return "four-way close";
}

void settle_peer_states(std::vector<TraceEvent>& events) {
  // The peer's first word (forged answers are rejected before they become events).
  std::optional<uint8_t> answer;
  for (const auto& e : events)
    if (e.segment.direction == Direction::inbound) {
      answer = e.segment.flags;
      break;
    }
  if (answer && (*answer & tcp_flag::syn)) return;  // SYN/ACK: it was SYN_RECEIVED indeed
  for (auto& e : events) {
    if (e.segment.direction == Direction::inbound) return;
    if (e.segment.remote_state_inferred != TcpState::syn_recv) continue;
    if (answer && (*answer & tcp_flag::rst)) e.segment.remote_state_inferred = TcpState::close;
    else e.peer_state_unknown = true;
  }
}

UnackedFin settle_unacked_fin(std::vector<TraceEvent>& events) {
  size_t fin = 0;
  while (fin < events.size() && !(events[fin].segment.direction == Direction::outbound &&
                                  (events[fin].segment.flags & tcp_flag::fin) && !events[fin].segment.retransmission))
    ++fin;
  if (fin == events.size()) return UnackedFin::acked;
  const TrackedSegment& ours = events[fin].segment;
  const uint32_t fin_end = ours.seq + ours.payload_length + 1;
  std::optional<size_t> first_inbound, settled;  // settled: the peer's ACK of the FIN, or its RST
  bool acked = false, resent = false;
  for (size_t i = fin + 1; i < events.size() && !settled; ++i) {
    const TrackedSegment& s = events[i].segment;
    if (s.direction == Direction::outbound) {
      resent = resent || ((s.flags & tcp_flag::fin) && s.retransmission);
      continue;
    }
    if (!first_inbound) first_inbound = i;
    acked = (s.flags & tcp_flag::ack) && !(s.flags & tcp_flag::rst) && seq_ge(s.ack, fin_end);
    if (acked || (s.flags & tcp_flag::rst)) settled = i;
  }
  if (acked && *first_inbound == *settled) return UnackedFin::acked;  // the peer's next word acked it
  // Up to the ACK or RST, the peer had not shown it had our FIN: not CLOSE_WAIT. A row the state
  // machine drew CLOSING or later came from the peer's own FIN, which crossed ours: it stands.
  for (size_t i = fin; i < settled.value_or(events.size()); ++i) {
    const TcpState peer = events[i].segment.remote_state_inferred;
    if (peer != TcpState::closing && peer != TcpState::time_wait) events[i].peer_state_unknown = true;
  }
  if (settled) return UnackedFin::acked;
  return resent ? UnackedFin::never : UnackedFin::not_yet;
}

namespace {
// The peer's SYN/ACK, first or repeated; not one at another ISN (a SYN proxy's), which says
// nothing of the peer's handshake (review: read as its SYN/ACK sent again, the peer redrawn
// in SYN_RECV).
bool peer_synack(const TrackedSegment& s) {
  constexpr uint8_t kSynAck = tcp_flag::syn | tcp_flag::ack;
  return s.direction == Direction::inbound && (s.flags & kSynAck) == kSynAck && !s.foreign_syn;
}

// The index of the peer's first SYN/ACK; events.size() when none came.
size_t first_peer_synack(const std::vector<TraceEvent>& events) {
  size_t i = 0;
  while (i < events.size() && !peer_synack(events[i].segment)) ++i;
  return i;
}

// Whether the peer's RST at `reset` answers our handshake ACK at `ack`. Our data or FIN sent
// after the ACK carries the same ack number, so an RST for it looks the same (found: a firewall
// that resets data segments read "the peer reset our ACK of its SYN/ACK"). The RST answers the
// ACK when nothing of ours followed it; when a peer that knows no connection reset each of our
// segments, the ACK too (as many such RSTs as our segments up to the first); or when it came
// late enough after the ACK for the peer to have answered it, yet sooner after the next segment
// of ours than half the handshake's round trip allows. An RST whose TTL is not the SYN/ACK's
// comes from something else on the way (a firewall nearer us): never the peer's answer.
bool reset_answers_ack(const std::vector<TraceEvent>& events, size_t synack, size_t ack, size_t reset) {
  std::optional<size_t> next;
  size_t ours = 1;  // the ACK, and what followed it before the RST
  for (size_t i = ack + 1; i < reset; ++i)
    if (events[i].segment.direction == Direction::outbound && !events[i].segment.duplicate) {
      if (!next) next = i;
      ++ours;
    }
  const TrackedSegment& r = events[reset].segment;
  if (r.ttl != events[synack].segment.ttl) return false;
  if (!next) return true;
  size_t resets = 0;
  for (size_t i = reset; i < events.size(); ++i) {
    const TrackedSegment& s = events[i].segment;
    if (s.direction == Direction::inbound && !s.duplicate && (s.flags & tcp_flag::rst) && !(s.flags & tcp_flag::ack) &&
        s.seq == events[ack].segment.ack)
      ++resets;
  }
  if (resets >= ours) return true;
  std::optional<int64_t> syn_ns;
  for (size_t i = 0; i < synack; ++i)
    if (events[i].segment.direction == Direction::outbound && (events[i].segment.flags & tcp_flag::syn))
      syn_ns = events[i].segment.time_ns;  // the last SYN sent: the one the SYN/ACK answers
  if (!syn_ns) return false;
  const int64_t rtt = events[synack].segment.time_ns - *syn_ns;
  return r.time_ns - events[ack].segment.time_ns >= rtt / 2 && r.time_ns - events[*next].segment.time_ns < rtt / 2;
}
}  // namespace

bool settle_ignored_ack(std::vector<TraceEvent>& events) {
  const auto in = [&](size_t i) { return events[i].segment.direction == Direction::inbound; };
  const auto synack_at = [&](size_t i) { return peer_synack(events[i].segment); };
  size_t ack = first_peer_synack(events);
  while (ack < events.size() &&
         (in(ack) || events[ack].segment.flags != tcp_flag::ack || events[ack].segment.payload_length > 0))
    ++ack;
  std::optional<size_t> last_synack;
  for (size_t i = ack + 1; i < events.size(); ++i) {
    const TrackedSegment& s = events[i].segment;
    // A network copy of the SYN/ACK (TSval and all) is no resend: the peer took our ACK (found
    // on a duplicating path: "it had not taken that ACK ... TCP_DEFER_ACCEPT").
    if (s.duplicate) continue;
    if (synack_at(i)) last_synack = i;
    else if (in(i) || s.flags != tcp_flag::ack || s.payload_length > 0) break;  // the peer or we moved on
  }
  if (!last_synack) return false;
  for (size_t i = ack; i < *last_synack; ++i) events[i].segment.remote_state_inferred = TcpState::syn_recv;
  return true;
}

HandshakeRefusal settle_unaccepted_handshake(std::vector<TraceEvent>& events) {
  constexpr uint8_t kSynAck = tcp_flag::syn | tcp_flag::ack;
  const auto in = [&](size_t i) { return events[i].segment.direction == Direction::inbound; };
  const size_t synack = first_peer_synack(events);
  size_t ack = synack;
  while (ack < events.size() &&
         (in(ack) || !(events[ack].segment.flags & tcp_flag::ack) || (events[ack].segment.flags & tcp_flag::syn)))
    ++ack;
  if (ack >= events.size()) return HandshakeRefusal::none;
  std::optional<size_t> reset;
  bool resent = false;
  for (size_t i = synack + 1; i < events.size(); ++i) {
    if (!in(i) || events[i].segment.duplicate) continue;  // a network copy is no resend
    const TrackedSegment& s = events[i].segment;
    if (s.flags & tcp_flag::rst) {
      if (!reset && i > ack) reset = i;
      continue;
    }
    if ((s.flags & kSynAck) != kSynAck) return HandshakeRefusal::none;  // it acked, sent data or a FIN
    if (i > ack && !reset) resent = true;
  }
  HandshakeRefusal why = HandshakeRefusal::none;
  if (resent) {
    why = HandshakeRefusal::synack_resent;
  } else if (reset) {
    // Nothing was resent, so the RST is the peer's first word after our ACK. One without ACK at
    // the ACK's number answers it (RFC 9293: the reset for a segment of no connection takes its
    // seq from that segment's ack).
    const TrackedSegment& r = events[*reset].segment;
    if (!(r.flags & tcp_flag::ack) && r.seq == events[ack].segment.ack && reset_answers_ack(events, synack, ack, *reset))
      why = HandshakeRefusal::ack_reset;
  }
  if (why == HandshakeRefusal::none) return why;
  for (size_t i = ack; i < events.size(); ++i)
    events[i].segment.remote_state_inferred = reset && i >= *reset ? TcpState::close : TcpState::syn_recv;
  return why;
}

void resolve_late_state_reads(std::vector<TraceEvent>& events) {
  // An outgoing segment changes our state just before it reaches the tap: hence the margin.
  constexpr int64_t kMarginNs = 200'000;
  // A read is late only when a segment seen by then shows the state it read. One that shows
  // the state the event before was given (read, or inferred for a late read) is none: that
  // state held since. Else a FIN our kernel had not put on the wire yet (held back behind
  // unacked data, or dropped by a local firewall) read as FIN_WAIT1 and was drawn ESTABLISHED
  // again from the wire, which had shown no FIN.
  std::optional<TcpState> before;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    TraceEvent& e = events[i];
    const std::optional<TcpState> read = e.local_state_read ? std::optional(e.local_state) : std::nullopt;
    bool late = false;
    // Nor is a read the inference could not follow: the capture's state machine went astray
    // (found under heavy reordering: LAST_ACK, then "FIN_WAIT2" for our kernel's CLOSE).
    const bool followable = !before || rfc9293_reachable(*before, e.segment.local_state_inferred);
    if (read && *read != e.segment.local_state_inferred && read != before && followable)
      for (size_t j = i + 1; !late && j < events.size() && events[j].segment.time_ns <= e.local_state_read_ns + kMarginNs; ++j)
        late = events[j].segment.local_state_inferred == *read;
    if (late) {
      e.local_state = e.segment.local_state_inferred;
      e.local_state_inferred = true;
    }
    if (read) before = e.local_state;
  }
}

std::optional<int64_t> own_delay_after_handshake(const std::vector<TraceEvent>& events) {
  std::optional<int64_t> ack_ns;
  bool synack = false;
  for (const auto& e : events) {
    const auto& s = e.segment;
    if (s.direction == Direction::inbound) {
      synack = synack || ((s.flags & tcp_flag::syn) && (s.flags & tcp_flag::ack));
      continue;
    }
    if (!synack || (s.flags & tcp_flag::syn)) continue;
    // Our kernel asked whether the peer's zero window reopened: the wait was the peer's.
    if (s.window_probe && s.zero_window) return std::nullopt;
    if (!ack_ns) {
      ack_ns = s.time_ns;
      continue;
    }
    if (s.payload_length || (s.flags & (tcp_flag::fin | tcp_flag::rst))) return s.time_ns - *ack_ns;
  }
  return std::nullopt;
}

std::optional<int64_t> own_close_delay(const std::vector<TraceEvent>& events) {
  // From the moment the peer's FIN took effect: when the state machine let it through (CLOSE_WAIT),
  // which is its arrival, or, when data before it was missing, the arrival of what filled the
  // gap (found on a lossy path: 389 ms of the peer's loss recovery counted as our own delay, with
  // CLOSE_WAIT 1.35 ms). A copy of data we had (a spurious retransmission) moves nothing (review).
  std::optional<int64_t> peer_fin_ns, effect_ns;
  for (const auto& e : events) {
    const auto& s = e.segment;
    if (s.duplicate) continue;
    if (s.direction == Direction::inbound) {
      if ((s.flags & tcp_flag::fin) && !peer_fin_ns) peer_fin_ns = s.time_ns;
      if (peer_fin_ns && !effect_ns && s.local_state_inferred == TcpState::close_wait) effect_ns = s.time_ns;
    } else if (s.flags & tcp_flag::fin) {
      if (!peer_fin_ns) return std::nullopt;
      return s.time_ns - effect_ns.value_or(*peer_fin_ns);
    }
  }
  return std::nullopt;
}

std::vector<StateSpan> state_spans(const std::vector<TraceEvent>& events) {
  std::vector<StateSpan> spans;
  for (const auto& e : events) {
    if (!e.local_state_read || (!spans.empty() && spans.back().state == e.local_state)) continue;
    if (!spans.empty()) spans.back().end_ns = e.segment.time_ns;
    spans.push_back(StateSpan{e.local_state, e.segment.time_ns, std::nullopt});
  }
  return spans;
}

namespace {
// Our data the peer acknowledged, as the capture saw its ACKs: from past our SYN to its last
// ACK, less our FIN when that is acknowledged too; at most what was written.
uint64_t bytes_acked(const ConnectionTracker& tracker, uint64_t written) {
  const auto& us = tracker.local();
  const auto& ack = tracker.remote().last_ack;
  if (!us.isn || !ack || seq_lt(*ack, *us.isn + 1)) return 0;  // none, or an ACK of nothing of ours
  uint32_t span = *ack - (*us.isn + 1);
  if (us.fin_seq && seq_gt(*ack, *us.fin_seq)) span -= 1;  // our FIN acknowledged too
  return std::min<uint64_t>(span, written);
}
}  // namespace

Result<TraceResult> trace_connection(const TraceConfig& config, int cancel_fd) {
  const IpAddress& d = config.destination;
  auto route = route_to(d, config.source, config.interface);
  if (!route) return tl::unexpected(route.error());
  // Link-local addresses on either end need the interface as their scope.
  const uint32_t scope = d.is_link_local() || route->source.is_link_local() ? uint32_t(route->interface_index) : 0u;
  auto sock = open_bound_socket(config, *route, scope);
  if (!sock) return tl::unexpected(sock.error());

  TraceResult result;
  result.tuple.local = route->source;
  result.tuple.remote = d;
  result.tuple.remote_port = config.port;
  result.tuple.local_port = local_port(sock->get()).value_or(0);
  result.interface = route->interface;
  auto live = LiveConnection::open(result.tuple, route->interface);
  if (!live) return tl::unexpected(live.error());

  const auto start = Clock::now();
  if (auto connecting = start_connect(sock->get(), config, scope); !connecting) return tl::unexpected(connecting.error());
  TraceRun run(config, cancel_fd, *sock, *live, scope, start, result);
  if (auto walked = run.walk(); !walked) return tl::unexpected(walked.error());
  conclude(result, config, run.connect_failure(), run.saw_closing());
  if (auto& cleanup = run.cleanup()) result.events.push_back(*cleanup);  // after the close was judged
  if (auto note = run.unsent_note(); note && run.connected()) result.notes.push_back(std::move(*note));
  result.rejected = live->rejected();
  result.bytes_acked = bytes_acked(live->tracker(), result.bytes_sent);
  return result;
}

}  // namespace tcpkit
