#include "tcpkit/io/neighbours.hpp"
#include "tcpkit/io/netlink_error.hpp"

#include "tcpkit/io/unique_fd.hpp"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

namespace tcpkit {

NeighbourState neighbour_state_of(uint16_t nud_state) {
  if (nud_state & (NUD_INCOMPLETE | NUD_FAILED)) return NeighbourState::unresolved;
  if (nud_state & NUD_REACHABLE) return NeighbourState::reachable;
  return NeighbourState::other;
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
      if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg))) continue;
      const auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
      if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) continue;
      const size_t size = nd->ndm_family == AF_INET ? 4 : 16;
      int length = int(h->nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
      for (auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(const_cast<ndmsg*>(nd)) + NLMSG_ALIGN(sizeof(ndmsg)));
           RTA_OK(a, length); a = RTA_NEXT(a, length)) {
        if (a->rta_type != NDA_DST || RTA_PAYLOAD(a) != size) continue;
        const auto* bytes = static_cast<const uint8_t*>(RTA_DATA(a));
        out.push_back(Neighbour{size == 4 ? IpAddress::from_v4(bytes) : IpAddress::from_v6(bytes), nd->ndm_ifindex,
                                neighbour_state_of(nd->ndm_state)});
      }
    }
  }
  return fail(ErrorCode::system, "netlink neighbour dump did not end");
}

}  // namespace tcpkit
