#pragma once
// TCP socket tables from the kernel over netlink sock_diag (what ss uses): IPv4 and IPv6,
// state and queues, timers with the time left, uid and inode, and TCP_INFO on request.
// The decoder works on plain bytes, so a recorded dump decodes without a kernel.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/sockets/socket_record.hpp"
#include "tcpkit/sockets/tcp_state.hpp"

namespace tcpkit {

// The kernel runs the port bytecode for every TCP socket of the host, and its `or` chain of
// remote ports grows by one comparison per port: with more ports than this, the remote port is
// left out of the program (fewer sockets are skipped; callers filter them again anyway).
constexpr size_t kMaxFilteredRemotePorts = 64;

struct SockDiagQuery {
  bool v4 = true;
  bool v6 = true;
  StateSet states = StateSet::all();  // filtered by the kernel
  bool tcp_info = false;              // ask for INET_DIAG_INFO (-i)
  // Also filtered by the kernel (inet_diag bytecode, as ss's filters): the local port within
  // [low, high], and, when remote_ports is not empty, the remote port one of them (with more
  // than kMaxFilteredRemotePorts, the remote port is not filtered).
  std::optional<std::pair<uint16_t, uint16_t>> local_ports;
  std::vector<uint16_t> remote_ports;
};

// What the decoder saw in a buffer of netlink messages.
struct SockDiagDecode {
  size_t sockets = 0;     // inet_diag_msg records decoded and passed on
  size_t done = 0;        // NLMSG_DONE messages (one per finished dump)
  size_t malformed = 0;   // messages too short, or with a length past the buffer (then decoding stops)
  int error = 0;          // errno from an NLMSG_ERROR message, 0 if none
  bool stopped = false;   // the sink returned false
};

// Turns an interface index into a name (the live reader uses if_indextoname). Without one,
// bound sockets get "if<N>".
using InterfaceNamer = std::function<std::string(uint32_t)>;

// Decodes every message in bytes (one recv()'s worth, or a whole recorded dump). Never reads
// past bytes, never throws; unaligned input is fine.
SockDiagDecode decode_sock_diag(std::span<const uint8_t> bytes, const SocketSink& sink,
                                const InterfaceNamer& namer = {});

// The request message for one family (exposed for tests and for recording dumps); AF_UNSPEC
// gives the older TCPDIAG_GETSOCK request, answered for both families in one walk of the table.
std::string build_sock_diag_request(int family, const SockDiagQuery& query, uint32_t sequence);

// One connection to look up exactly (no dump): the kernel finds it, TIME_WAIT included.
struct SockDiagLookup {
  IpAddress local;
  uint16_t local_port = 0;
  IpAddress remote;
  uint16_t remote_port = 0;
  uint32_t interface_index = 0;  // the zone of link-local ends, 0 otherwise
};
std::string build_sock_diag_lookup(const SockDiagLookup& id, uint32_t sequence);

// A NETLINK_SOCK_DIAG socket, and a request sent on it to the kernel (false: errno says why).
Result<UniqueFd> open_sock_diag();
bool send_to_kernel(int fd, const std::string& request);

struct SockDiagStats {
  size_t sockets = 0;
  size_t bytes = 0;  // netlink bytes received
};

// Dumps the current network namespace's TCP sockets, streaming each to sink (which may stop
// the dump by returning false). raw_tap, when set, sees every received buffer (--save-netlink).
Result<SockDiagStats> dump_tcp_sockets(const SockDiagQuery& query, const SocketSink& sink,
                                       const std::function<void(std::span<const uint8_t>)>& raw_tap = {});

}  // namespace tcpkit
