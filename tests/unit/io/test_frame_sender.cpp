// The frame sender's packet socket only sends: no received frame may be queued to it. Bound to
// the IPv4 protocol, it was handed a copy of every reply of a scan and never read them (a cost
// per reply, and a receive buffer kept full). Runs in a network namespace of its own, in a
// child process, so the frames go to that namespace's loopback only. Needs root.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tcpkit/io/frame_sender.hpp"

using namespace tcpkit;

namespace {

// The child's verdicts, as exit codes.
enum Outcome { kQuiet = 0, kSetupFailed = 10, kNotSent = 11, kNoControlCopy = 12, kSenderQueued = 13 };

struct PacketRow {
  unsigned protocol = 0;
  int running = 0;
  unsigned long receive_memory = 0;
  unsigned long inode = 0;
};

// /proc/net/packet: sk RefCnt Type Proto Iface R Rmem User Inode (Proto in hex).
std::vector<PacketRow> packet_sockets() {
  std::ifstream in("/proc/self/net/packet");
  std::string line;
  std::getline(in, line);  // the header
  std::vector<PacketRow> rows;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sk, refs, type, proto, iface, user;
    PacketRow row;
    fields >> sk >> refs >> type >> proto >> iface >> row.running >> row.receive_memory >> user >> row.inode;
    row.protocol = unsigned(std::stoul(proto, nullptr, 16));
    rows.push_back(row);
  }
  return rows;
}

bool loopback_up() {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  ifreq request{};
  std::strcpy(request.ifr_name, "lo");
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = short(request.ifr_flags | IFF_UP);
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &request) == 0;
  ::close(s);
  return ok;
}

// A UDP datagram from 127.0.0.1 to 127.0.0.1:9 (discard); its checksums do not matter here.
std::vector<uint8_t> ipv4_datagram() {
  std::vector<uint8_t> p(28, 0);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = IPPROTO_UDP;
  p[12] = 127, p[15] = 1, p[16] = 127, p[19] = 1;
  p[23] = 9;
  p[25] = 8;
  return p;
}

Outcome send_and_look() {
  if (::unshare(CLONE_NEWNET) != 0 || !loopback_up()) return kSetupFailed;
  const int lo = int(::if_nametoindex("lo"));
  // A control: a packet socket bound to IPv4 on lo, which must receive the frames we send.
  const int control = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_ifindex = lo;
  link.sll_protocol = htons(ETH_P_IP);
  struct stat control_stat{};
  if (control < 0 || ::bind(control, reinterpret_cast<sockaddr*>(&link), sizeof link) != 0 ||
      ::fstat(control, &control_stat) != 0)
    return kSetupFailed;

  FrameRoute route;
  route.interface_index = lo;  // loopback's Ethernet addresses are all zero
  auto sender = FrameSender::open(route);
  if (!sender) return kSetupFailed;
  const std::vector<std::vector<uint8_t>> packets(20, ipv4_datagram());
  const std::vector<IpAddress> dsts(20, *IpAddress::parse("127.0.0.1"));
  auto sent = sender->send_batch(packets, dsts);
  if (!sent || *sent != packets.size()) return kNotSent;

  bool control_got_them = false, sender_quiet = true;
  for (const PacketRow& row : packet_sockets()) {
    if (row.inode == control_stat.st_ino)
      control_got_them = row.receive_memory > 0;
    else
      sender_quiet = sender_quiet && row.protocol == 0 && row.running == 0 && row.receive_memory == 0;
  }
  if (!control_got_them) return kNoControlCopy;
  return sender_quiet ? kQuiet : kSenderQueued;
}

}  // namespace

TEST_CASE("the frame sender's packet socket is handed none of the frames the interface receives") {
  if (::geteuid() != 0) {
    if (std::getenv("CI")) FAIL("needs root (a network namespace, CAP_NET_RAW) and CI is set");
    WARN("skipped: needs root (a network namespace, CAP_NET_RAW)");
    return;
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(send_and_look());
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != kSetupFailed);
  CHECK(WEXITSTATUS(status) != kNotSent);
  CHECK(WEXITSTATUS(status) != kNoControlCopy);  // the frames were received: the check below can fail
  CHECK(WEXITSTATUS(status) == kQuiet);
}
