#include "tcpkit/probe/connection_trace.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "tcpkit/probe/live_connection.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/probe/socket_lookup.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/unique_fd.hpp"

namespace tcpkit {

namespace {

using Clock = std::chrono::steady_clock;

bool readable_eof_or_data(int fd, uint64_t& received, bool& eof) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      received += uint64_t(n);
      continue;
    }
    if (n == 0) eof = true;
    return n == 0 || errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Who closed how, from the segments after the first FIN or RST.
// An RST from a side already CLOSED (by the state before it) answers a stray segment, a late
// or duplicated one: it closed nothing.
bool closing_reset(const std::vector<TraceEvent>& events, size_t i) {
  const TrackedSegment& s = events[i].segment;
  if (!(s.flags & tcp_flag::rst) || s.answers_rejected) return false;
  if (i == 0) return true;
  const TrackedSegment& before = events[i - 1].segment;
  const TcpState sender = s.direction == Direction::outbound ? before.local_state_inferred : before.remote_state_inferred;
  return sender != TcpState::close;
}

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
  if (saw_closing) return "simultaneous close";
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

}  // namespace

void resolve_late_state_reads(std::vector<TraceEvent>& events) {
  // An outgoing segment changes our state just before it reaches the tap: hence the margin.
  constexpr int64_t kMarginNs = 200'000;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    TraceEvent& e = events[i];
    if (!e.local_state_read || e.local_state == e.segment.local_state_inferred) continue;
    if (events[i + 1].segment.time_ns > e.local_state_read_ns + kMarginNs) continue;
    e.local_state = e.segment.local_state_inferred;
    e.local_state_inferred = true;
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
    if (!ack_ns) {
      ack_ns = s.time_ns;
      continue;
    }
    if (s.payload_length || (s.flags & (tcp_flag::fin | tcp_flag::rst))) return s.time_ns - *ack_ns;
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

Result<TraceResult> trace_connection(const TraceConfig& config, int cancel_fd) {
  const IpAddress& d = config.destination;
  auto route = route_to(d, config.source, config.interface);
  if (!route) return tl::unexpected(route.error());

  UniqueFd sock(::socket(d.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return fail_errno("TCP socket", errno);
  if (!config.interface.empty() && setsockopt(sock.get(), SOL_SOCKET, SO_BINDTODEVICE, config.interface.c_str(),
                                              socklen_t(config.interface.size())) < 0)
    return fail_errno("bind to interface '" + config.interface + "'", errno);
  // Bind first: the capture must know our port before the SYN leaves.
  socklen_t length = 0;
  // Link-local addresses on either end need the interface as their scope.
  const uint32_t scope = d.is_link_local() || route->source.is_link_local() ? uint32_t(route->interface_index) : 0u;
  sockaddr_storage local = route->source.to_sockaddr(config.source_port.value_or(0), &length, scope);
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&local), length) < 0)
    return fail_errno("bind " + route->source.to_string_with_port(config.source_port.value_or(0)), errno);

  TraceResult result;
  result.tuple.local = route->source;
  result.tuple.remote = d;
  result.tuple.remote_port = config.port;
  result.tuple.local_port = local_port(sock.get()).value_or(0);
  result.interface = route->interface;
  auto live = LiveConnection::open(result.tuple, route->interface);
  if (!live) return tl::unexpected(live.error());

  const auto start = Clock::now();
  const auto limit = start + config.limit;
  socklen_t remote_length = 0;
  const sockaddr_storage remote = d.to_sockaddr(config.port, &remote_length, scope);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&remote), remote_length) < 0 && errno != EINPROGRESS)
    return fail_errno("connect to " + d.to_string_with_port(config.port), errno);

  bool connected = false, refused = false, data_written = config.send_data.empty();
  // Until our first move after the handshake (data, FIN, RST), the socket is looked at every
  // 250 us instead of after each 5 ms capture wait: that wait was most of "ESTABLISHED".
  bool acted = false;
  bool close_started = false, peer_eof = false, saw_closing = false, timed_out_peer = false;
  std::optional<Clock::time_point> eof_wait_until;
  Clock::time_point last_segment = start;
  std::optional<TcpState> current;
  const auto rtt_quiet = [&] {
    // After the close: wait a few RTTs for stragglers (retransmissions), at least 200 ms.
    const int64_t rtt = result.syn_to_synack_ns.value_or(0);
    return std::max(std::chrono::nanoseconds(200'000'000), std::chrono::nanoseconds(4 * rtt));
  };

  auto record = [&](const TrackedSegment& segment) {
    TraceEvent event;
    event.segment = segment;
    // Our kernel handles an arriving segment right after the capture tap: give it a moment.
    std::this_thread::sleep_for(config.settle);
    if (auto found = lookup_tcp_socket(result.tuple, int(scope))) {
      event.local_state = *found ? (*found)->state : TcpState::close;
      event.local_state_read = true;
      event.local_state_read_ns = realtime_ns();
      if (*found && (*found)->state == TcpState::time_wait && (*found)->timer_ms) result.time_wait_left_ms = (*found)->timer_ms;
    }
    if (event.local_state == TcpState::closing) saw_closing = true;
    if (event.local_state_read) current = event.local_state;
    const auto& f = segment.flags;
    if (segment.direction == Direction::inbound && (f & tcp_flag::syn) && (f & tcp_flag::ack) && !result.syn_to_synack_ns &&
        !result.events.empty())
      result.syn_to_synack_ns = segment.time_ns - result.events.front().segment.time_ns;
    if (event.local_state == TcpState::established && !result.syn_to_established_ns && !result.events.empty())
      result.syn_to_established_ns = segment.time_ns - result.events.front().segment.time_ns;
    if (segment.duplicate) ++result.duplicates;
    if (segment.retransmission && !segment.duplicate)
      result.notes.push_back(std::string(segment.direction == Direction::inbound ? "the peer" : "we") + " retransmitted " +
                             flags_names(f) + " (seq " + std::to_string(segment.relative_seq) + ")");
    result.events.push_back(event);
    last_segment = Clock::now();
  };

  for (;;) {
    const auto now = Clock::now();
    if (now >= limit) {
      result.outcome = "time limit";
      result.notes.push_back("stopped at the time limit");
      break;
    }
    if (cancel_fd >= 0) {
      pollfd p{cancel_fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        result.outcome = "interrupted";
        // Abort, never a FIN: a FIN would leave the peer in CLOSE_WAIT and us half-closed.
        if (sock.get() >= 0) {
          const linger abort_close{1, 0};
          setsockopt(sock.get(), SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
          sock.reset();
        }
        break;
      }
    }
    // Read segments for up to 5 ms (250 us before we acted), then look at the socket and act.
    const auto wait = acted || refused ? std::chrono::microseconds(5000) : std::chrono::microseconds(250);
    auto segment = live->next(std::min(limit, now + wait), cancel_fd);
    if (!segment) return tl::unexpected(segment.error());
    if (*segment) {
      record(**segment);
      continue;  // drain everything queued before acting
    }

    if (!connected && !refused && sock.get() >= 0) {
      pollfd p{sock.get(), POLLOUT, 0};
      if (::poll(&p, 1, 0) > 0) {
        int error = 0;
        socklen_t len = sizeof error;
        getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &len);
        if (error == 0) {
          connected = true;
        } else {
          refused = true;
          result.outcome = error == ECONNREFUSED ? "refused" : "failed";
          result.notes.push_back(std::string("connect: ") + std::strerror(error));
        }
      } else if (Clock::now() - start > config.connect_timeout) {
        result.outcome = "no answer";
        result.notes.push_back("no SYN/ACK within the connect timeout");
        break;
      }
    }
    if (refused) {
      if (Clock::now() - last_segment > rtt_quiet()) break;
      continue;
    }
    if (!connected) continue;

    if (!data_written) {
      const ssize_t n = ::send(sock.get(), config.send_data.data(), config.send_data.size(), MSG_NOSIGNAL);
      if (n > 0) result.bytes_sent += uint64_t(n);
      data_written = true;
      acted = true;
    }
    if (config.close == CloseMode::peer) acted = true;  // nothing of ours to hurry: the peer moves
    if (sock.get() >= 0 && !peer_eof && !readable_eof_or_data(sock.get(), result.bytes_received, peer_eof)) {
      peer_eof = true;  // an error (RST): nothing more to read
    }
    const auto& tracker = live->tracker();
    const bool data_acked = !tracker.local().next_seq || !tracker.remote().last_ack ||
                            seq_ge(*tracker.remote().last_ack, *tracker.local().next_seq);

    if (!close_started) {
      if (config.close == CloseMode::peer) {
        if (!eof_wait_until) eof_wait_until = Clock::now() + config.peer_close_timeout;
        if (peer_eof) {
          sock.reset();  // our FIN after the peer's: CLOSE_WAIT -> LAST_ACK
          close_started = true;
        } else if (Clock::now() >= *eof_wait_until) {
          timed_out_peer = true;
          result.notes.push_back("the peer did not close within the wait; we closed first");
          ::shutdown(sock.get(), SHUT_WR);
          close_started = true;
        }
      } else if (data_acked) {
        acted = true;
        if (config.close == CloseMode::reset) {
          const linger abort_close{1, 0};
          setsockopt(sock.get(), SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
          sock.reset();
        } else {
          ::shutdown(sock.get(), SHUT_WR);  // our FIN; keep the descriptor to read the rest
        }
        close_started = true;
      }
      continue;
    }
    if (sock.get() >= 0 && peer_eof) sock.reset();  // both FINs exchanged or reset: done with it

    const bool finished = current && (*current == TcpState::time_wait || *current == TcpState::close);
    if ((finished || config.close == CloseMode::reset) && Clock::now() - last_segment > rtt_quiet()) {
      result.outcome = "closed";
      break;
    }
  }
  (void)timed_out_peer;

  resolve_late_state_reads(result.events);
  result.local_states = state_spans(result.events);
  if (config.close != CloseMode::peer || !config.send_data.empty())
    result.own_delay_ns = own_delay_after_handshake(result.events);

  result.rejected = live->rejected();
  // Close duration: from the first FIN or RST to the last segment.
  for (const auto& e : result.events) {
    if ((e.segment.flags & (tcp_flag::fin | tcp_flag::rst)) && !e.segment.answers_rejected) {
      result.close_ns = result.events.back().segment.time_ns - e.segment.time_ns;
      break;
    }
  }
  result.close_kind = refused ? "refused" : close_kind(result.events, saw_closing);
  for (size_t i = 0; i < result.events.size(); ++i) {
    const auto& s = result.events[i].segment;
    if ((s.flags & tcp_flag::rst) && !s.answers_rejected && !closing_reset(result.events, i)) {
      result.notes.push_back(std::string(s.direction == Direction::inbound ? "the peer" : "our kernel") +
                             " sent an RST after its side had closed: an answer to a late or duplicated segment");
      break;
    }
  }
  return result;
}

}  // namespace tcpkit
