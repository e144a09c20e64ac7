#include "tcpkit/io/capture.hpp"

#include "tcpkit/io/dl_symbol.hpp"

#include <dlfcn.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <type_traits>

#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/io/recv_message.hpp"
#include "tcpkit/wire/checksum.hpp"

namespace tcpkit {

const char* to_string(TimestampSource source) { return source == TimestampSource::kernel ? "kernel" : "user"; }

namespace {

// libpcap is loaded on the first filter to compile, not linked: only its compiler is used,
// and Debian's libpcap brings libsystemd, libdbus and libgcrypt (~1 MB resident) into every
// process that links it, whether it compiles a filter or not (tcpscan never does).
struct PcapCompiler {
  decltype(&pcap_open_dead) open_dead = nullptr;
  decltype(&pcap_compile) compile = nullptr;
  decltype(&pcap_geterr) geterr = nullptr;
  decltype(&pcap_freecode) freecode = nullptr;
  decltype(&pcap_close) close = nullptr;
};

Result<PcapCompiler> load_pcap() {
  void* handle = nullptr;
  std::string first_error;
  for (const char* name : {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"}) {
    if ((handle = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (first_error.empty())
      if (const char* e = dlerror()) first_error = e;
  }
  // Missing is one thing; present but not loadable (EMFILE under a tiny ulimit -n) another.
  if (!handle && first_error.find("No such file") == std::string::npos && !first_error.empty())
    return fail(ErrorCode::system, "cannot load libpcap: " + first_error);
  if (!handle)
    return fail(ErrorCode::system, "capture filters need libpcap (libpcap.so.0.8), which is not installed: "
                                   "install the libpcap0.8 package");
  // Kept loaded for the life of the process.
  PcapCompiler p;
  auto find = [handle](auto& slot, const char* symbol) { return load_symbol(handle, symbol, slot); };
  if (!find(p.open_dead, "pcap_open_dead") || !find(p.compile, "pcap_compile") || !find(p.geterr, "pcap_geterr") ||
      !find(p.freecode, "pcap_freecode") || !find(p.close, "pcap_close"))
    return fail(ErrorCode::system, "the libpcap found lacks pcap_compile and friends");
  return p;
}

// Reads one datagram's kernel receive stamp (SO_TIMESTAMPNS), if a datagram is queued.
std::optional<int64_t> read_stamp(int fd) {
  char byte;
  RecvMessage<128> message(&byte, 1);
  if (::recvmsg(fd, &message.header, MSG_DONTWAIT) < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message.header); c; c = CMSG_NXTHDR(&message.header, c))
    if (const auto stamp = timestampns_of(*c)) return stamp;
  return std::nullopt;
}

// When no socket on the machine wanted receive stamps, the first one to ask (our capture)
// has the kernel turn stamping on from a worker (net_enable_timestamp defers its static key).
// Until that worker has run, packets arrive unstamped and recvmsg reports the time of the
// read as the kernel's stamp: a SYN read 1 ms late was 'sent' 1 ms late, and a trace's
// SYN -> SYN/ACK came out shorter than the wire's round trip. A datagram to ourselves over
// loopback tells when stamping is live: its stamp is then older than our read. Bounded
// (about 100 ms at worst); best effort where loopback cannot be used (lo down in a namespace).
void await_rx_timestamps() {
  const UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) return;
  const int fd = sock.get();
  const int on = 1;
  sockaddr_in self{};
  self.sin_family = AF_INET;
  self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof self;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0 &&
      ::bind(fd, reinterpret_cast<sockaddr*>(&self), sizeof self) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &length) == 0) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (::sendto(fd, "t", 1, 0, reinterpret_cast<sockaddr*>(&self), sizeof self) != 1) break;
      ::usleep(500);  // a stamp taken at the read is then at least this much younger
      const int64_t read_at = realtime_ns();
      const auto stamp = read_stamp(fd);
      if (stamp && *stamp < read_at - 250'000) break;  // stamped on arrival: live
    }
  }
}

}  // namespace

Admission admit_packet(uint32_t tp_status, const uint8_t* ip_packet, size_t captured, size_t wire_length) {
  const size_t claimed = ip_claimed_length(ip_packet, captured);
  if (claimed > 0 && wire_length < claimed) return Admission::unverifiable;
  // Checked by the device or the kernel (CSUM_VALID), or not filled in yet because it was
  // handed over before the checksum offload would fill it (CSUMNOTREADY: loopback, veth with
  // offload on): nothing to verify. Otherwise a whole TCP/ICMP packet must add up.
  if (tp_status & (TP_STATUS_CSUM_VALID | TP_STATUS_CSUMNOTREADY)) return Admission::pass;
  switch (verify_checksums(ip_packet, captured)) {
    case ChecksumCheck::bad: return Admission::bad_checksum;
    case ChecksumCheck::unverifiable: return Admission::unverifiable;
    case ChecksumCheck::good:
    case ChecksumCheck::unknown: break;
  }
  return Admission::pass;
}

Result<std::vector<BpfInstruction>> compile_filter(const std::string& filter, uint32_t snaplen) {
  // pcap_compile keeps global parser state in older libpcaps: serialise it (and the loading).
  static std::mutex compile_mutex;
  std::lock_guard<std::mutex> lock(compile_mutex);
  static const Result<PcapCompiler> pcap = load_pcap();
  if (!pcap) return tl::unexpected(pcap.error());
  pcap_t* dead = pcap->open_dead(DLT_RAW, int(snaplen));
  if (!dead) return fail(ErrorCode::system, "pcap_open_dead failed");
  bpf_program program{};
  if (pcap->compile(dead, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string why = pcap->geterr(dead);
    pcap->close(dead);
    return fail(ErrorCode::bad_input, "invalid capture filter '" + filter + "': " + why);
  }
  std::vector<BpfInstruction> out(program.bf_len);
  for (u_int i = 0; i < program.bf_len; ++i)
    out[i] = BpfInstruction{program.bf_insns[i].code, program.bf_insns[i].jt, program.bf_insns[i].jf, program.bf_insns[i].k};
  pcap->freecode(&program);
  pcap->close(dead);
  return out;
}

void Capture::ignore_outgoing() {
  if (!include_outgoing_) return;
  include_outgoing_ = false;
  const int on = 1;
  setsockopt(fd_.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on);
}

Result<Capture> Capture::open(const CaptureOptions& options) {
  int index = 0;
  if (!options.interface.empty()) {
    auto found = interface_index(options.interface);
    if (!found) return tl::unexpected(found.error());
    index = *found;
  }
  // Protocol 0: the socket receives nothing until bind() names a protocol, so the filter is
  // in place before the first packet is queued.
  const int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno("packet socket", errno);
  Capture capture(fd, options.snaplen, true);
  if (!options.include_outgoing) capture.ignore_outgoing();

  std::vector<BpfInstruction> program;
  if (!options.filter.empty()) {
    auto compiled = compile_filter(options.filter, kWholePacket);
    if (!compiled) return tl::unexpected(compiled.error());
    program = std::move(*compiled);
  } else {
    program.push_back(BpfInstruction{BPF_RET | BPF_K, 0, 0, kWholePacket});
  }
  static_assert(sizeof(BpfInstruction) == sizeof(sock_filter));
  sock_fprog fprog{static_cast<unsigned short>(program.size()), reinterpret_cast<sock_filter*>(program.data())};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) return fail_errno("attach capture filter", errno);

  const int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) return fail_errno("SO_TIMESTAMPNS", errno);
  // tp_status tells which checksums the kernel or the device already vouched for.
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof on) < 0) return fail_errno("PACKET_AUXDATA", errno);
  await_rx_timestamps();
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer, sizeof options.receive_buffer);
  // As root, exceed rmem_max so bursts are not dropped (ignored without CAP_NET_ADMIN).
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &options.receive_buffer, sizeof options.receive_buffer);

  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = index;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) return fail_errno("bind packet socket", errno);
  return capture;
}

Result<std::optional<CapturedPacket>> Capture::poll_now() {
  for (;;) {
    CapturedPacket packet;
    sockaddr_ll from{};
    RecvMessage<256> message(whole_.data(), whole_.size(), &from, sizeof from);
    const ssize_t n = ::recvmsg(fd_.get(), &message.header, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<CapturedPacket>{};
      if (errno == EINTR) continue;
      return fail_errno("receive from packet socket", errno);
    }
    packet.original_length = uint32_t(n);
    const size_t captured = std::min<size_t>(size_t(n), whole_.size());
    packet.outgoing = from.sll_pkttype == PACKET_OUTGOING;
    packet.interface_index = from.sll_ifindex;
    if (packet.outgoing && !include_outgoing_) continue;
    packet.source = TimestampSource::user;
    uint32_t status = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message.header); c; c = CMSG_NXTHDR(&message.header, c)) {
      if (const auto stamp = timestampns_of(*c)) {
        packet.time_ns = *stamp;
        packet.source = TimestampSource::kernel;
      } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
                 c->cmsg_len >= CMSG_LEN(sizeof(tpacket_auxdata))) {
        tpacket_auxdata aux;
        std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
        status = aux.tp_status;
      }
    }
    if (!packet.outgoing) {
      const Admission admitted = admit_packet(status, whole_.data(), captured, size_t(n));
      if (admitted != Admission::pass) {
        ++(admitted == Admission::bad_checksum ? bad_checksums_ : unverifiable_);
        continue;  // corrupted, forged or malformed: never handed on to be classified
      }
    }
    packet.data.assign(whole_.begin(), whole_.begin() + std::ptrdiff_t(std::min<size_t>(captured, snaplen_)));
    if (packet.source == TimestampSource::user) packet.time_ns = realtime_ns();
    return std::optional<CapturedPacket>(std::move(packet));
  }
}

Result<std::optional<CapturedPacket>> Capture::next(std::chrono::steady_clock::time_point deadline, int cancel_fd) {
  for (;;) {
    auto ready = poll_now();
    if (!ready || *ready) return ready;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::optional<CapturedPacket>{};
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    timespec timeout{time_t(wait.count() / 1'000'000'000), long(wait.count() % 1'000'000'000)};
    pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int r = ::ppoll(fds, cancel_fd >= 0 ? 2 : 1, &timeout, nullptr);
    if (r < 0 && errno != EINTR) return fail_errno("poll packet socket", errno);
    if (r > 0 && cancel_fd >= 0 && (fds[1].revents & POLLIN)) return std::optional<CapturedPacket>{};
    if (r < 0 && cancel_fd < 0) continue;
  }
}

CaptureStats Capture::stats() {
  tpacket_stats counters{};
  socklen_t length = sizeof counters;
  if (getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &counters, &length) < 0) return {};
  return CaptureStats{counters.tp_packets, counters.tp_drops};
}

}  // namespace tcpkit
