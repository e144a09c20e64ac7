#include "tcpkit/probe/connect_probe.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tcpkit/io/error_queue.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/io/local_port.hpp"
#include "tcpkit/io/tcp_info.hpp"
#include "tcpkit/io/unique_fd.hpp"

namespace tcpkit {

namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

// The ICMP error the kernel queued for this socket, if any (IP_RECVERR).
bool read_icmp_error(int fd, ProbeReply& reply) {
  const auto err = read_queued_icmp(fd);
  if (!err) return false;
  reply.icmp_v6 = err->origin == SO_EE_ORIGIN_ICMP6;
  reply.icmp_type = err->type;
  reply.icmp_code = err->code;
  reply.icmp_text = icmp_description(reply.icmp_v6, err->type, err->code);
  // The offender is the router that sent the error.
  if (err->offender) reply.responder = *err->offender;
  return true;
}

// A non-blocking TCP socket that queues ICMP errors, with the config's interface, TTL and source.
Result<UniqueFd> open_probe_socket(const ConnectProbeConfig& config) {
  const IpAddress& d = config.destination;
  UniqueFd sock(::socket(d.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return fail_errno("TCP socket", errno);
  const int on = 1;
  if (d.is_v4()) setsockopt(sock.get(), SOL_IP, IP_RECVERR, &on, sizeof on);
  else setsockopt(sock.get(), SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  if (!config.interface.empty() &&
      setsockopt(sock.get(), SOL_SOCKET, SO_BINDTODEVICE, config.interface.c_str(), socklen_t(config.interface.size())) < 0)
    return fail_errno("bind to interface '" + config.interface + "'", errno);
  if (config.ttl) {
    const int ttl = *config.ttl;
    if (d.is_v4()) setsockopt(sock.get(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    else setsockopt(sock.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  }
  if (config.source || config.source_port) {
    setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    IpAddress any = d.is_v4() ? IpAddress::from_v4_host_order(0) : IpAddress::from_v6(std::array<uint8_t, 16>{}.data());
    socklen_t length = 0;
    sockaddr_storage local = config.source.value_or(any).to_sockaddr(config.source_port.value_or(0), &length);
    if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&local), length) < 0) return fail_errno("bind source", errno);
  }
  return sock;
}

// connect()'s result (SO_ERROR) once the socket is writable; ETIMEDOUT at the deadline or when
// cancel_fd becomes readable.
Result<int> await_connect(int fd, int64_t deadline_ns, int cancel_fd) {
  for (;;) {
    const int64_t left = deadline_ns - monotonic_ns();
    if (left <= 0) return ETIMEDOUT;
    timespec timeout{time_t(left / kNsPerSecond), long(left % kNsPerSecond)};
    pollfd fds[2] = {{fd, POLLOUT, 0}, {cancel_fd, POLLIN, 0}};
    const int r = ::ppoll(fds, cancel_fd >= 0 ? 2 : 1, &timeout, nullptr);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno("poll", errno);
    if (r > 0 && cancel_fd >= 0 && (fds[1].revents & POLLIN)) return ETIMEDOUT;
    if (r > 0 && fds[0].revents) {
      int error = ETIMEDOUT;
      socklen_t len = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      return error;
    }
  }
}

// The timestamp option with its padding, as every segment of a connection that agreed on it carries.
constexpr uint32_t kTimestampOptionBytes = 12;

// The agreed options and the kernel's RTT of a connected socket, which is then set to end
// with an RST.
void read_open_socket(int fd, ProbeReply& reply) {
  if (const auto info = socket_tcp_info(fd)) {
    reply.kernel_rtt_us = info->tcpi_rtt;
    reply.syn_retransmits = info->tcpi_total_retrans;  // a connection just made has sent nothing else
    // TCP_INFO tells which options were agreed, not their bytes: listed in Linux's order,
    // timestamps without values. Its MSS is the segment size in use, which leaves out the
    // timestamp option's 12 bytes: with them back it is the peer's MSS, unless our route's MTU
    // allows less (found: 'mss 1188' for a SYN/ACK offering 1200, 1448 for 1460).
    const bool timestamps = info->tcpi_options & TCPI_OPT_TIMESTAMPS;
    reply.options.add_mss(uint16_t(info->tcpi_snd_mss + (timestamps ? kTimestampOptionBytes : 0)));
    if (info->tcpi_options & TCPI_OPT_SACK) reply.options.add_sack_permitted();
    if (timestamps) reply.options.add_timestamps(0, 0);
    if (info->tcpi_options & TCPI_OPT_WSCALE) reply.options.add_nop().add_window_scale(uint8_t(info->tcpi_snd_wscale));
  }
  const linger abort_close{1, 0};  // RST, not FIN: no TIME_WAIT left behind
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
}

// SYNs the kernel sent again before connect() ended, whatever ended it (an RST or an ICMP error
// to a resent SYN takes the retransmission timeout too, not a round trip). The socket keeps
// its counters after the kernel closed it.
uint32_t syn_retransmits(int fd) {
  const auto info = socket_tcp_info(fd);
  return info ? info->tcpi_total_retrans : 0;
}

bool unreachable_error(int error) {
  return error == EHOSTUNREACH || error == ENETUNREACH || error == EACCES || error == EPERM || error == EPROTO ||
         error == ENOPROTOOPT;
}

}  // namespace

Result<ProbeReply> connect_probe(const ConnectProbeConfig& config, uint64_t probe_id, int cancel_fd) {
  const IpAddress& d = config.destination;
  auto sock = open_probe_socket(config);
  if (!sock) return tl::unexpected(sock.error());

  ProbeReply reply;
  reply.probe_id = probe_id;
  reply.responder = d;
  reply.timestamps = TimestampSource::user;
  socklen_t length = 0;
  const sockaddr_storage to = d.to_sockaddr(config.port, &length);
  reply.sent_ns = realtime_ns();
  const int64_t start = monotonic_ns();
  int rc = ::connect(sock->get(), reinterpret_cast<const sockaddr*>(&to), length);
  int error = rc == 0 ? 0 : errno;
  if (error == EINPROGRESS) {
    const auto waited = await_connect(sock->get(), start + std::chrono::nanoseconds(config.timeout).count(), cancel_fd);
    if (!waited) return tl::unexpected(waited.error());
    error = *waited;
  }
  const int64_t elapsed = monotonic_ns() - start;

  if (const auto port = local_port(sock->get())) reply.source_port = *port;
  if (error == ETIMEDOUT) {
    reply.outcome = ProbeOutcome::filtered;
    return reply;
  }
  // ECONNRESET: the handshake completed and an RST followed before the poll woke (found behind a
  // SYN proxy guarding a closed port: exit 4, "Connection reset by peer").
  if (error != 0 && error != ECONNREFUSED && error != ECONNRESET && !unreachable_error(error))
    return fail_errno("connect to " + d.to_string_with_port(config.port), error);
  reply.connect_ns = elapsed;
  reply.rtt_ns = elapsed;
  if (error != 0) reply.syn_retransmits = syn_retransmits(sock->get());
  if (error == 0) {
    reply.outcome = ProbeOutcome::open;
    read_open_socket(sock->get(), reply);
  } else if (error == ECONNRESET) {
    reply.outcome = ProbeOutcome::open;
    reply.reset_after_handshake = true;
  } else if (read_icmp_error(sock->get(), reply)) {
    // Before ECONNREFUSED: an ICMP port unreachable fails connect() with it too, and is queued.
    reply.outcome = ProbeOutcome::unreachable;
  } else if (error == ECONNREFUSED) {
    reply.outcome = ProbeOutcome::closed;
    reply.flags = tcp_flag::rst | tcp_flag::ack;
  } else {
    reply.outcome = ProbeOutcome::unreachable;
    reply.icmp_text = std::strerror(error);
  }
  return reply;
}

}  // namespace tcpkit
