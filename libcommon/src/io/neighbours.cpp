#include "tcpkit/io/neighbours.hpp"
#include "tcpkit/io/netlink_error.hpp"

#include "tcpkit/io/unique_fd.hpp"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace tcpkit {

NeighbourState neighbour_state_of(uint16_t nud_state) {
  if (nud_state & (NUD_INCOMPLETE | NUD_FAILED)) return NeighbourState::unresolved;
  if (nud_state & NUD_REACHABLE) return NeighbourState::reachable;
  if (nud_state & (NUD_STALE | NUD_DELAY | NUD_PROBE)) return NeighbourState::stale;
  return NeighbourState::other;
}

std::optional<Neighbour> decode_neighbour(std::span<const uint8_t> message) {
  if (message.size() < NLMSG_LENGTH(sizeof(ndmsg))) return std::nullopt;
  nlmsghdr header{};
  std::memcpy(&header, message.data(), sizeof header);
  if (header.nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg)) || header.nlmsg_len > message.size()) return std::nullopt;
  ndmsg nd{};
  std::memcpy(&nd, message.data() + NLMSG_HDRLEN, sizeof nd);
  if (nd.ndm_family != AF_INET && nd.ndm_family != AF_INET6) return std::nullopt;
  const size_t size = nd.ndm_family == AF_INET ? 4 : 16;
  Neighbour out{IpAddress{}, nd.ndm_ifindex, neighbour_state_of(nd.ndm_state), std::nullopt};
  bool has_address = false;
  // The attributes, walked by hand over a bounded span (no pointer past the message is formed).
  size_t at = NLMSG_LENGTH(sizeof(ndmsg));
  while (at + sizeof(rtattr) <= header.nlmsg_len) {
    rtattr a{};
    std::memcpy(&a, message.data() + at, sizeof a);
    if (a.rta_len < sizeof(rtattr) || at + a.rta_len > header.nlmsg_len) break;
    const uint8_t* data = message.data() + at + RTA_LENGTH(0);
    const size_t length = a.rta_len - RTA_LENGTH(0);
    if (a.rta_type == NDA_DST && length == size) {
      out.address = size == 4 ? IpAddress::from_v4(data) : IpAddress::from_v6(data);
      has_address = true;
    } else if (a.rta_type == NDA_LLADDR && length == MacAddress{}.size()) {
      MacAddress mac{};
      std::memcpy(mac.data(), data, mac.size());
      out.mac = mac;
    }
    at += RTA_ALIGN(a.rta_len);
  }
  if (!has_address) return std::nullopt;
  return out;
}

Result<std::vector<Neighbour>> read_neighbours() {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.get() < 0) return fail_errno("netlink socket", errno);
  timeval timeout{2, 0};  // the kernel answers at once; never hang
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  struct {
    nlmsghdr header;
    ndmsg message;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  request.header.nlmsg_type = RTM_GETNEIGH;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.message.ndm_family = AF_UNSPEC;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.get(), &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return fail_errno("netlink neighbour request", errno);

  std::vector<Neighbour> out;
  alignas(nlmsghdr) char reply[16384];
  // A dump ends with NLMSG_DONE; the bound keeps a misbehaving kernel from looping us forever.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < give_up) {
    ssize_t n = ::recv(sock.get(), reply, sizeof reply, 0);
    if (n < 0) return fail_errno("netlink neighbour reply", errno);
    // n stays signed (as in route.cpp): NLMSG_NEXT may take a last message's padding below zero,
    // which as unsigned would pass NLMSG_OK and read past the reply.
    for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return out;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const int error = netlink_errno(h, static_cast<size_t>(n));
        return fail_errno("netlink neighbour dump", error ? error : EPROTO);
      }
      if (h->nlmsg_type != RTM_NEWNEIGH) continue;
      const auto* bytes = reinterpret_cast<const uint8_t*>(h);
      if (auto neighbour = decode_neighbour({bytes, h->nlmsg_len})) out.push_back(*neighbour);
    }
  }
  return fail(ErrorCode::system, "netlink neighbour dump did not end");
}

std::optional<NeighbourState> state_in_table(const std::vector<Neighbour>& table, const IpAddress& address,
                                             int interface_index) {
  std::optional<NeighbourState> state;
  for (const auto& n : table)
    if (n.address == address && (interface_index == 0 || n.interface_index == interface_index) &&
        (!state || n.state != NeighbourState::stale))
      state = n.state;
  return state;
}

bool next_hop_unresolved(const Route& route, const IpAddress& destination) {
  if (route.local) return false;
  const auto table = read_neighbours();
  return table && state_in_table(*table, route.gateway.value_or(destination), route.interface_index) ==
                      NeighbourState::unresolved;
}

std::string unanswered_next_hop(const Route& route, const IpAddress& destination) {
  const IpAddress hop = route.gateway.value_or(destination);
  return (route.gateway ? "the gateway " + hop.to_string() : std::string("the host")) + " on " + route.interface +
         " never answered " + (hop.is_v4() ? "ARP" : "neighbour discovery");
}

Result<std::optional<NeighbourState>> await_neighbour(const IpAddress& address,
                                                      std::chrono::steady_clock::time_point deadline, int cancel_fd,
                                                      int interface_index) {
  constexpr auto kPoll = std::chrono::milliseconds(20);
  while (true) {
    auto table = read_neighbours();
    if (!table) return tl::unexpected(table.error());
    const std::optional<NeighbourState> state = state_in_table(*table, address, interface_index);
    const auto now = std::chrono::steady_clock::now();
    if (state != NeighbourState::stale || now >= deadline) return state;
    const auto wait = std::min<std::chrono::steady_clock::duration>(kPoll, deadline - now);
    const int ms = int(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
    pollfd cancel{cancel_fd, POLLIN, 0};  // poll ignores a negative fd: then a plain sleep
    if (::poll(&cancel, 1, ms) > 0) return state;  // interrupted
  }
}

}  // namespace tcpkit
