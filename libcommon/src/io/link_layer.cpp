#include "tcpkit/io/link_layer.hpp"

#include "tcpkit/io/netlink_error.hpp"
#include "tcpkit/io/unique_fd.hpp"

#include <net/if_arp.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace tcpkit {

namespace {
// How often the neighbour table is read again while the kernel resolves an address.
constexpr auto kNeighbourPoll = std::chrono::milliseconds(5);

std::optional<MacAddress> known_mac(const std::vector<Neighbour>& table, const IpAddress& address, int interface_index) {
  for (const auto& n : table)
    if (n.address == address && n.interface_index == interface_index && n.mac && n.state != NeighbourState::unresolved)
      return n.mac;
  return std::nullopt;
}

// One RTM_NEWNEIGH for address on the interface, with no link-layer address: its state and
// flags say what the kernel is to do with the entry, created if `create`. "what" names it in an error.
Result<void> update_neighbour(const IpAddress& address, int interface_index, uint16_t state, uint8_t flags,
                              bool create, const std::string& what) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock.valid()) return fail_errno("netlink socket", errno);
  timeval timeout{2, 0};  // the kernel acknowledges at once; never hang
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct {
    nlmsghdr header;
    ndmsg message;
    rtattr dst;
    uint8_t bytes[16];
  } request{};
  const size_t size = address.is_v6() ? 16 : 4;
  request.header.nlmsg_len = uint32_t(NLMSG_LENGTH(sizeof(ndmsg)) + RTA_LENGTH(size));
  request.header.nlmsg_type = RTM_NEWNEIGH;
  request.header.nlmsg_flags = uint16_t(NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | (create ? NLM_F_CREATE : 0));
  request.header.nlmsg_seq = 1;
  request.message.ndm_family = uint8_t(address.is_v6() ? AF_INET6 : AF_INET);
  request.message.ndm_ifindex = interface_index;
  request.message.ndm_state = state;
  request.message.ndm_flags = flags;
  request.dst.rta_type = NDA_DST;
  request.dst.rta_len = uint16_t(RTA_LENGTH(size));
  std::memcpy(request.bytes, address.data(), size);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.get(), &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("netlink neighbour request", errno);
  alignas(nlmsghdr) uint8_t reply[1024];
  const ssize_t n = ::recv(sock.get(), reply, sizeof reply, 0);
  if (n < 0) return fail_errno("netlink neighbour request's answer", errno);
  const auto* h = reinterpret_cast<const nlmsghdr*>(reply);
  if (!NLMSG_OK(h, size_t(n)) || h->nlmsg_type != NLMSG_ERROR) return {};
  const int error = netlink_errno(h, size_t(n));
  if (error != 0) return fail_errno(what + " " + address.to_string() + " (netlink RTM_NEWNEIGH)", error);
  return {};
}

// RTM_NEWNEIGH with NTF_USE: the kernel creates the entry if needed and starts resolving it,
// as the first packet to the address would (`ip neigh replace ADDR dev DEV use`). The entry's
// state is left to the kernel: NTF_USE skips the update.
Result<void> request_resolution(const IpAddress& address, int interface_index) {
  return update_neighbour(address, interface_index, NUD_NONE, NTF_USE, true, "resolve");
}
}  // namespace

Result<void> probe_neighbour(const IpAddress& address, int interface_index) {
  // Only an entry that exists: a new one would have no link-layer address to probe.
  return update_neighbour(address, interface_index, NUD_PROBE, 0, false, "probe");
}

std::string to_string(const MacAddress& mac) {
  char text[18];
  (void)std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                      mac[5]);
  return text;
}

Result<LinkInfo> link_info(int interface_index) {
  // One socket for both ioctls: if_indextoname would open its own, and a failure there (no
  // descriptor left) comes back as a misleading "No such file or directory".
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return fail_errno("socket", errno);
  ifreq request{};
  request.ifr_ifindex = interface_index;
  if (::ioctl(sock.get(), SIOCGIFNAME, &request) < 0)
    return fail_errno("interface #" + std::to_string(interface_index), errno);
  char name[IF_NAMESIZE] = {};
  std::memcpy(name, request.ifr_name, sizeof name - 1);
  if (::ioctl(sock.get(), SIOCGIFHWADDR, &request) < 0) return fail_errno(std::string("hardware address of ") + name, errno);
  LinkInfo info;
  info.index = interface_index;
  info.name = name;
  info.ethernet = request.ifr_hwaddr.sa_family == ARPHRD_ETHER;
  std::memcpy(info.mac.data(), request.ifr_hwaddr.sa_data, info.mac.size());
  return info;
}

Result<MacAddress> resolve_neighbour(const IpAddress& address, int interface_index, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  bool asked = false;
  while (true) {
    auto table = read_neighbours();
    if (!table) return tl::unexpected(table.error());
    if (auto mac = known_mac(*table, address, interface_index)) return *mac;
    if (std::chrono::steady_clock::now() >= give_up) break;
    if (!asked) {
      if (auto ok = request_resolution(address, interface_index); !ok) return tl::unexpected(ok.error());
      asked = true;
    }
    std::this_thread::sleep_for(kNeighbourPoll);
  }
  return fail(ErrorCode::system, "no " + std::string(address.is_v6() ? "neighbour discovery" : "ARP") + " answer from " +
                                     address.to_string() + " within " + std::to_string(timeout.count()) + " ms");
}

}  // namespace tcpkit
