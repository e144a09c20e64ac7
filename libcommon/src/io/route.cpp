#include "tcpkit/io/route.hpp"
#include "tcpkit/io/netlink_error.hpp"

#include "tcpkit/io/unique_fd.hpp"

#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tcpkit {

namespace {

void add_attribute(nlmsghdr* header, size_t capacity, uint16_t type, const void* data, size_t length) {
  const size_t aligned = NLMSG_ALIGN(header->nlmsg_len);
  const size_t total = RTA_LENGTH(length);
  if (aligned + RTA_ALIGN(total) > capacity) return;
  auto* attribute = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(header) + aligned);
  attribute->rta_type = type;
  attribute->rta_len = static_cast<uint16_t>(total);
  std::memcpy(RTA_DATA(attribute), data, length);
  header->nlmsg_len = static_cast<uint32_t>(aligned + RTA_ALIGN(total));
}

}  // namespace

RouteReply decode_route_reply(std::span<const uint8_t> bytes, Family family) {
  RouteReply route;
  const size_t address_size = family == Family::v4 ? 4 : 16;
  auto* reply = reinterpret_cast<const nlmsghdr*>(bytes.data());
  // Signed: NLMSG_NEXT takes a last message's padding off the remainder, which may then go
  // below zero; as unsigned it became huge and the walk went on past the reply.
  auto n = static_cast<ssize_t>(bytes.size());
  for (auto* h = reply; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      const int error = netlink_errno(h, static_cast<size_t>(n));
      if (error == 0) continue;  // an acknowledgement
      route.error = error;
      return route;
    }
    // Too short to hold its rtmsg: nothing of it is read (fuzz crash: a 19-byte RTM_NEWROUTE).
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) continue;
    const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(h));
    route.local = rt->rtm_type == RTN_LOCAL;
    int length = static_cast<int>(RTM_PAYLOAD(h));
    for (auto* a = RTM_RTA(rt); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
      const auto payload = RTA_PAYLOAD(a);
      const auto* data = static_cast<const uint8_t*>(RTA_DATA(a));
      if (a->rta_type == RTA_OIF && payload >= sizeof(int)) {
        std::memcpy(&route.interface_index, data, sizeof(int));
      } else if (a->rta_type == RTA_PREFSRC && payload == address_size) {
        route.source = family == Family::v4 ? IpAddress::from_v4(data) : IpAddress::from_v6(data);
      } else if (a->rta_type == RTA_GATEWAY && payload == address_size) {
        route.gateway = family == Family::v4 ? IpAddress::from_v4(data) : IpAddress::from_v6(data);
      }
    }
  }
  return route;
}

Result<int> interface_index(const std::string& name) {
  if (name.empty() || name.size() >= IF_NAMESIZE) return fail(ErrorCode::bad_input, "invalid interface name '" + name + "'");
  // if_nametoindex in our own words: its socket failing (EMFILE) is the system's failure, and
  // only ENODEV means the name is wrong.
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return fail_errno("socket to look up interface '" + name + "'", errno);
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (::ioctl(sock.get(), SIOCGIFINDEX, &request) < 0) {
    if (errno == ENODEV) return fail(ErrorCode::bad_input, "no such interface '" + name + "'");
    return fail_errno("look up interface '" + name + "'", errno);
  }
  return request.ifr_ifindex;
}

namespace {

// What the kernel's refusal of a route means: a reject route of this host's own table says so
// through errno alone (found: a blackhole route read "Invalid argument", a prohibit route
// "Permission denied", like a missing privilege).
std::string route_error_text(int error) {
  switch (error) {
    case EINVAL: return "a blackhole route in this host's table drops it";
    case EACCES: return "a prohibit route in this host's table refuses it";
    case EHOSTUNREACH: return "an unreachable route in this host's table refuses it";
    case ENETUNREACH: return "Network is unreachable (no route in this host's table)";
    default: return std::strerror(error);
  }
}

// The kernel answers a route request at once: the timeout only keeps a wedged netlink from hanging us.
constexpr timeval kNetlinkTimeout{2, 0};
constexpr size_t kRequestBytes = 512;   // an rtmsg, the destination and an interface index
constexpr size_t kReplyBytes = 8192;    // one route, with room for its attributes
// UDP's discard port: connecting a UDP socket sends nothing; any port would do.
constexpr uint16_t kAnyUdpPort = 9;

// The kernel's route to the destination (RTM_GETROUTE), through forced_index when it is not 0,
// and for packets from source when one is given (policy rules "from" apply then).
Result<RouteReply> ask_route(const IpAddress& destination, int forced_index,
                             const std::optional<IpAddress>& source = std::nullopt) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.get() < 0) return fail_errno("netlink socket", errno);
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &kNetlinkTimeout, sizeof kNetlinkTimeout);

  alignas(nlmsghdr) char request[kRequestBytes] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(request);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  header->nlmsg_type = RTM_GETROUTE;
  header->nlmsg_flags = NLM_F_REQUEST;
  header->nlmsg_seq = 1;  // one request per socket: any number matches
  auto* message = static_cast<rtmsg*>(NLMSG_DATA(header));
  message->rtm_family = destination.is_v4() ? AF_INET : AF_INET6;
  message->rtm_dst_len = uint8_t(destination.size() * 8);  // the host itself, all its bits
  add_attribute(header, sizeof request, RTA_DST, destination.data(), destination.size());
  if (forced_index) add_attribute(header, sizeof request, RTA_OIF, &forced_index, sizeof forced_index);
  if (source) {
    message->rtm_src_len = uint8_t(source->size() * 8);
    add_attribute(header, sizeof request, RTA_SRC, source->data(), source->size());
  }

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.get(), request, header->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("netlink route request", errno);

  alignas(nlmsghdr) char reply[kReplyBytes];
  ssize_t n = ::recv(sock.get(), reply, sizeof reply, 0);
  if (n < 0) return fail_errno("netlink route reply", errno);
  return decode_route_reply(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(reply), size_t(n)),
                            destination.family());
}

// IPv6 routes often carry no preferred source: ask the kernel by connecting a UDP socket.
Result<IpAddress> source_by_udp_connect(const IpAddress& destination, const std::string& interface) {
  UniqueFd udp(::socket(destination.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (udp.get() < 0) return fail_errno("udp socket", errno);
  if (!interface.empty()) setsockopt(udp.get(), SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(), socklen_t(interface.size()));
  socklen_t length = 0;
  sockaddr_storage to = destination.to_sockaddr(kAnyUdpPort, &length);
  if (::connect(udp.get(), reinterpret_cast<sockaddr*>(&to), length) < 0)
    return fail_errno("no source address for " + destination.to_string(), errno);
  sockaddr_storage local{};
  socklen_t local_length = sizeof local;
  if (::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&local), &local_length) < 0) return fail_errno("getsockname", errno);
  return *IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
}

}  // namespace

Result<Route> route_to(const IpAddress& destination, const std::optional<IpAddress>& source, const std::string& interface) {
  if (source && source->family() != destination.family())
    return fail(ErrorCode::bad_input, "source " + source->to_string() + " and destination " + destination.to_string() +
                                          " are of different address families");
  int forced_index = 0;
  if (!interface.empty()) {
    auto index = interface_index(interface);
    if (!index) return tl::unexpected(index.error());
    forced_index = *index;
  }
  // Routes are asked for packets from the source, as the kernel routes a connection once it has
  // one: a rule "from <address> lookup <table>" may send them elsewhere (found: with such a rule
  // the probes left by the main table's link and the capture listened there, while the answers
  // and the kernel's own connection used the other). A -S of this host's is asked so at once; a
  // chosen source after the lookup that chose it; a -S of another host's (spoofing) is not
  // asked so, the kernel refusing such a source.
  const bool own_source = source && [&] {
    const auto own = own_addresses();
    return std::find(own.begin(), own.end(), *source) != own.end();
  }();
  auto decoded = ask_route(destination, forced_index, own_source ? source : std::nullopt);
  if (!decoded) return tl::unexpected(decoded.error());
  const auto refused = [&](int error) {
    return fail(ErrorCode::system, "no route to " + destination.to_string() +
                                       (interface.empty() ? "" : " via " + interface) + ": " + route_error_text(error),
                error);
  };
  if (decoded->error != 0) return refused(decoded->error);
  Route route;
  if (source) {
    route.source = *source;
  } else if (decoded->source) {
    route.source = *decoded->source;
  } else {
    auto found = source_by_udp_connect(destination, interface);
    if (!found) return tl::unexpected(found.error());
    route.source = *found;
  }
  if (!source) {
    // The rule for the chosen source may lead to a reject route as well: that is the answer.
    auto from_source = ask_route(destination, forced_index, route.source);
    if (from_source && from_source->error != 0) return refused(from_source->error);
    if (from_source && from_source->interface_index != 0) decoded = std::move(from_source);
  }
  route.interface_index = decoded->interface_index;
  route.gateway = decoded->gateway;
  route.local = decoded->local;
  if (route.interface_index == 0) return fail(ErrorCode::system, "no route to " + destination.to_string());
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(route.interface_index), name)) route.interface = name;
  return route;
}

std::vector<IpAddress> own_addresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* a = list; a; a = a->ifa_next)
    if (a->ifa_addr)
      if (auto address = IpAddress::from_sockaddr(a->ifa_addr)) out.push_back(*address);
  ::freeifaddrs(list);
  return out;
}

}  // namespace tcpkit
