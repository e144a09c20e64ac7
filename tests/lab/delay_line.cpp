// lab_delay_line: a layer-2 bridge between two interfaces that delays every frame by D ms
// and drops, reorders or duplicates a seeded share of them. The kernel here has no netem, so
// the lab gets known latency and faults from this program running in a middle namespace.
//
//   lab_delay_line --a IF --b IF --delay-ms D --loss P --seed S [--burst N]
//                  [--reorder Q --reorder-ms X] [--duplicate R] [--max-seconds N] [--pcap FILE]
//
// Per direction one reader thread queues each frame with the time the kernel received it
// (SO_TIMESTAMPNS, so a late read does not delay it more); one writer thread sleeps until
// arrival + D with an absolute clock_nanosleep and sends it. Without --reorder frames keep
// their order.
//
// Faults, each direction with its own seeded stream (the same seed gives the same faults for
// the same frames; with --burst 1 and no --reorder/--duplicate the draws are those of --loss
// alone):
//   --loss P     the long-run share of frames dropped.
//   --burst N    losses come in runs of exactly N consecutive frames of one direction: a run
//                starts at a frame with probability q = P / (P + N (1 - P)), which keeps the
//                dropped share at P (a cycle is a geometric count of passed frames, mean
//                (1 - q) / q, then N dropped). N = 1 is independent (Bernoulli) loss.
//   --reorder Q  a share Q of the frames that pass is held back X ms more (--reorder-ms,
//                default 10): frames arriving within X ms after it overtake it.
//   --duplicate R  a share R of the frames that pass is sent twice, back to back.
// Queues are bounded (kMaxQueuedFrames, kMaxQueuedBytes per direction): beyond, frames are
// tail-dropped and counted as overflow. The report on exit counts each fault.
//
// --pcap FILE records the a-side link as a wire tap next to it would: every frame arriving
// from a, stamped by the kernel on reception, and every frame leaving on a, stamped by the
// kernel as the driver takes it (SO_TIMESTAMPING), both on CLOCK_REALTIME, nanosecond pcap.
// Unlike tcpdump on that interface it adds no work to the path between the stamp and the link.
//
// It uses no tcpkit code on purpose, though some socket plumbing looks alike: it is the lab's
// measuring instrument for that library, and must not share its bugs.
//
// Exit codes: 0 stopped by SIGTERM/SIGINT or --max-seconds, 1 a socket failed while running,
// 2 bad flags, 3 no CAP_NET_RAW, 4 other setup failure.

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/if_ether.h>
#include <linux/net_tstamp.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kMaxFrame = 65536;
// Bounds on what may wait in one direction: beyond them frames are tail-dropped.
constexpr std::size_t kMaxQueuedFrames = 50000;
constexpr std::size_t kMaxQueuedBytes = 64u << 20;

struct Options {
  std::string if_a;
  std::string if_b;
  double delay_ms = -1;
  double loss = -1;
  double burst = 1;
  double reorder = 0;
  double reorder_ms = 10;
  double duplicate = 0;
  std::uint64_t seed = 0;
  bool seed_set = false;
  double max_seconds = 3600;
  std::string pcap;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "lab_delay_line: %s (usage: --a IF --b IF --delay-ms D --loss P --seed S "
               "[--burst N] [--reorder Q --reorder-ms X] [--duplicate R] [--max-seconds N] "
               "[--pcap FILE])\n", why.c_str());
  std::exit(2);
}

double parse_number(const std::string& flag, const std::string& text, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
    char range[64];
    std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    usage_error(flag + " wants a number in " + range + ", got '" + text + "'");
  }
  return v;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (const auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--help" || flag == "-h") {
      std::printf("usage: lab_delay_line --a IF --b IF --delay-ms D --loss P --seed S "
                  "[--burst N] [--reorder Q --reorder-ms X] [--duplicate R] [--max-seconds N] "
                  "[--pcap FILE]\n");
      std::exit(0);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error("missing value for " + flag);
    }
    if (flag == "--a") {
      o.if_a = value;
    } else if (flag == "--b") {
      o.if_b = value;
    } else if (flag == "--delay-ms") {
      o.delay_ms = parse_number(flag, value, 0, 60000);
    } else if (flag == "--loss") {
      o.loss = parse_number(flag, value, 0, 1);
    } else if (flag == "--burst") {
      o.burst = parse_number(flag, value, 1, 10000);
      if (o.burst != static_cast<double>(static_cast<long>(o.burst)))
        usage_error("--burst wants a whole number of frames, got '" + value + "'");
    } else if (flag == "--reorder") {
      o.reorder = parse_number(flag, value, 0, 1);
    } else if (flag == "--reorder-ms") {
      o.reorder_ms = parse_number(flag, value, 0.001, 60000);
    } else if (flag == "--duplicate") {
      o.duplicate = parse_number(flag, value, 0, 1);
    } else if (flag == "--seed") {
      char* end = nullptr;
      errno = 0;
      o.seed = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0) {
        usage_error("--seed wants an unsigned integer, got '" + value + "'");
      }
      o.seed_set = true;
    } else if (flag == "--pcap") {
      if (value.empty()) usage_error("--pcap wants a file name");
      o.pcap = value;
    } else if (flag == "--max-seconds") {
      o.max_seconds = parse_number(flag, value, 0.001, 7 * 86400);
    } else {
      usage_error("unknown flag " + flag);
    }
  }
  if (o.if_a.empty() || o.if_b.empty()) usage_error("--a and --b are required");
  if (o.if_a == o.if_b) usage_error("--a and --b must differ");
  if (o.delay_ms < 0) usage_error("--delay-ms is required");
  if (o.loss < 0) usage_error("--loss is required");
  if (!o.seed_set) usage_error("--seed is required");
  return o;
}

std::atomic<bool> g_stop{false};
std::atomic<bool> g_failed{false};

// Wake the main thread (it waits for SIGTERM in sigtimedwait) after a fatal socket error.
void fail(const char* what, int err) {
  std::fprintf(stderr, "lab_delay_line: %s: %s\n", what, std::strerror(err));
  g_failed = true;
  g_stop = true;
  kill(getpid(), SIGTERM);
}

// Best effort: a real-time priority keeps the release times tight while the machine is busy
// compiling. The threads only ever block on I/O or sleep, so they cannot hog a CPU.
void try_realtime() {
  sched_param sp{};
  sp.sched_priority = 1;
  pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A packet socket bound to one interface, promiscuous, blind to its own transmissions.
int open_port(const std::string& ifname) {
  const unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0) usage_error("no interface named '" + ifname + "'");
  // Protocol 0 until bind: no frame of another interface is queued before the bind.
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    std::fprintf(stderr, "lab_delay_line: packet socket: %s%s\n", std::strerror(err),
                 err == EPERM ? " (needs CAP_NET_RAW)" : "");
    std::exit(err == EPERM ? 3 : 4);
  }
  auto check = [&](int rc, const char* what) {
    if (rc < 0) {
      std::fprintf(stderr, "lab_delay_line: %s on %s: %s\n", what, ifname.c_str(),
                   std::strerror(errno));
      std::exit(4);
    }
  };
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(index);
  check(bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll), "bind");
  const int one = 1;
  check(setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one),
        "PACKET_IGNORE_OUTGOING");
  packet_mreq mreq{};
  mreq.mr_ifindex = static_cast<int>(index);
  mreq.mr_type = PACKET_MR_PROMISC;  // removed by the kernel when the socket closes
  check(setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq), "promiscuous");
  // The kernel's receive time of each frame: see arrival_of().
  check(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one), "SO_TIMESTAMPNS");
  // Readers wake up regularly to notice a stop request.
  timeval tv{0, 200'000};
  check(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), "SO_RCVTIMEO");
  const int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);  // best effort
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  return fd;
}

// A send-only packet socket on one interface (protocol 0: it receives nothing). The --pcap
// recorder sends through it: the kernel's send stamps land on its error queue, where nobody
// waits, so queueing them wakes no thread on the frame's way to the link.
int open_sender(const std::string& ifname) {
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;
  sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
    std::fprintf(stderr, "lab_delay_line: send socket on %s: %s\n", ifname.c_str(),
                 std::strerror(errno));
    std::exit(4);
  }
  const int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  return fd;
}

struct Frame {
  std::int64_t release_ns;
  std::vector<std::uint8_t> bytes;
  int copies = 1;  // 2 for a duplicated frame
};

// What happens to the frames of one direction besides the delay (see the header).
struct Faults {
  double loss = 0;
  long burst = 1;
  double reorder = 0;
  std::int64_t reorder_ns = 0;
  double duplicate = 0;
};

// The --pcap recorder: a nanosecond pcap (link type EN10MB) shared by the two threads that
// touch the a side. Frames are cut to kSnap bytes; headers are all the benchmarks need.
class LinkLog {
 public:
  static constexpr std::size_t kSnap = 128;

  bool open(const std::string& path) {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) return false;
    const std::uint32_t header[6] = {0xa1b23c4d, 0x00040002, 0, 0, kSnap, 1};  // magic: ns
    return std::fwrite(header, sizeof header, 1, file_) == 1 && std::fflush(file_) == 0;
  }

  void write(std::int64_t realtime_ns, const std::uint8_t* data, std::size_t length) {
    if (!file_ || realtime_ns <= 0) return;
    const std::size_t kept = std::min(length, kSnap);
    const std::uint32_t record[4] = {static_cast<std::uint32_t>(realtime_ns / 1'000'000'000),
                                     static_cast<std::uint32_t>(realtime_ns % 1'000'000'000),
                                     static_cast<std::uint32_t>(kept),
                                     static_cast<std::uint32_t>(length)};
    std::lock_guard lock(mu_);
    std::fwrite(record, sizeof record, 1, file_);
    std::fwrite(data, 1, kept, file_);
    std::fflush(file_);  // a benchmark reads it while we run; records are few
  }

  void close() {
    if (file_) std::fclose(file_);
    file_ = nullptr;
  }

 private:
  std::FILE* file_ = nullptr;
  std::mutex mu_;
};

// Kernel timestamps on a packet socket: software stamps on reception, and the driver's stamp
// of each frame sent, queued on the error queue with a per-send key counted from 0.
bool enable_link_stamps(int fd) {
  const unsigned flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_TX_SOFTWARE |
                         SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
                         SOF_TIMESTAMPING_OPT_TSONLY;
  return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
}

// The software stamp in a message's control data, or 0.
std::int64_t stamp_of(msghdr& message) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
        c->cmsg_len >= CMSG_LEN(sizeof(scm_timestamping))) {
      scm_timestamping ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return std::int64_t{ts.ts[0].tv_sec} * 1'000'000'000 + ts.ts[0].tv_nsec;
    }
  }
  return 0;
}

// When the kernel took the frame in (SO_TIMESTAMPNS, CLOCK_REALTIME), on the monotonic clock.
// Stamping on read instead would let a descheduled reader bunch up the frames it finds queued:
// a held one would then be overtaken by every frame queued behind it, not only by those that
// came within the hold, and the delay would start late. A wire starts it when the frame comes.
std::int64_t arrival_of(msghdr& message) {
  const std::int64_t now = now_ns();
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
        c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
      timespec stamp{};
      std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
      timespec real{};
      clock_gettime(CLOCK_REALTIME, &real);
      const std::int64_t age = (std::int64_t{real.tv_sec} - stamp.tv_sec) * 1'000'000'000 +
                               (real.tv_nsec - stamp.tv_nsec);
      // A clock step (or no stamp) leaves the read time: never in the future, never a minute back.
      if (age > 0 && age < 60'000'000'000) return now - age;
    }
  }
  return now;
}

// Waits (briefly, bounded) for the send stamp with this key; 0 when none came.
std::int64_t take_send_stamp(int fd, std::uint32_t key) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    alignas(cmsghdr) char control[256];
    char data[64];
    iovec iov{data, sizeof data};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno != EAGAIN) return 0;
      std::this_thread::sleep_for(std::chrono::microseconds(5));
      continue;
    }
    std::int64_t stamp = stamp_of(message);
    bool ours = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_TX_TIMESTAMP &&
          c->cmsg_len >= CMSG_LEN(sizeof(sock_extended_err))) {
        sock_extended_err error{};
        std::memcpy(&error, CMSG_DATA(c), sizeof error);
        ours = error.ee_origin == SO_EE_ORIGIN_TIMESTAMPING && error.ee_data == key;
      }
    }
    if (ours) return stamp;  // an older key's stamp (its wait gave up) is skipped
  }
  return 0;
}

// One direction: frames read on in_fd leave on out_fd after delay_ns.
class Direction {
 public:
  Direction(const char* name, int in_fd, int out_fd, std::int64_t delay_ns, const Faults& faults,
            std::uint64_t seed)
      : name_(name), in_fd_(in_fd), out_fd_(out_fd), delay_ns_(delay_ns), faults_(faults),
        run_start_(faults.loss / (faults.loss + static_cast<double>(faults.burst) * (1 - faults.loss))),
        rng_(seed) {}

  // Record what this direction reads (its in side is the logged link) or what it sends (its
  // out side is). The sockets must have enable_link_stamps() on.
  void log_reads(LinkLog* log) { read_log_ = log; }
  void log_sends(LinkLog* log) { send_log_ = log; }

  void read_loop() {
    try_realtime();
    std::vector<std::uint8_t> buf(kMaxFrame);
    while (!g_stop) {
      sockaddr_ll from{};
      alignas(cmsghdr) char control[256];
      iovec iov{buf.data(), buf.size()};
      msghdr message{};
      message.msg_name = &from;
      message.msg_namelen = sizeof from;
      message.msg_iov = &iov;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      const ssize_t n = recvmsg(in_fd_, &message, MSG_TRUNC);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        if (errno == ENETDOWN) {  // link flapped: not fatal, the kernel reports it once
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        fail("recv", errno);
        return;
      }
      // Belt and braces next to PACKET_IGNORE_OUTGOING: never forward our own writes.
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      ++received_;
      const std::int64_t arrival = arrival_of(message);
      if (read_log_) {
        read_log_->write(stamp_of(message), buf.data(),
                         std::min(static_cast<std::size_t>(n), buf.size()));
      }
      if (static_cast<std::size_t>(n) > buf.size()) {
        ++truncated_;
        continue;
      }
      if (drop_this()) {
        ++lost_;
        continue;
      }
      // Draws only for the faults asked for: without them the stream is --loss's alone.
      const bool hold = faults_.reorder > 0 && uniform() < faults_.reorder;
      const bool twice = faults_.duplicate > 0 && uniform() < faults_.duplicate;
      std::lock_guard lock(mu_);
      if (main_.size() + held_.size() >= kMaxQueuedFrames ||
          queued_bytes_ + static_cast<std::size_t>(n) > kMaxQueuedBytes) {
        ++overflow_;
        continue;
      }
      Frame frame{arrival + delay_ns_ + (hold ? faults_.reorder_ns : 0),
                  {buf.begin(), buf.begin() + n}, twice ? 2 : 1};
      (hold ? held_ : main_).push_back(std::move(frame));
      if (hold) ++held_count_;
      queued_bytes_ += static_cast<std::size_t>(n);
      cv_.notify_one();
    }
  }

  void write_loop() {
    // The default 50 us timer slack would blur the release time; ask for none.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    try_realtime();
    while (true) {
      Frame frame;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(200),
                     [&] { return g_stop.load() || !main_.empty() || !held_.empty(); });
        if (g_stop) return;
        if (main_.empty() && held_.empty()) continue;
        // Each queue is in release order; the earlier front goes first. A frame arriving later
        // is due after main_'s front, so only a wait on a held frame with main_ empty can be
        // overtaken by a newcomer: that wait listens for arrivals.
        const bool from_held =
            main_.empty() || (!held_.empty() && held_.front().release_ns < main_.front().release_ns);
        std::deque<Frame>& queue = from_held ? held_ : main_;
        if (from_held && main_.empty() && queue.front().release_ns > now_ns()) {
          const auto due = std::min(queue.front().release_ns, now_ns() + 200'000'000);
          cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
          continue;
        }
        frame = std::move(queue.front());
        queue.pop_front();
        queued_bytes_ -= frame.bytes.size();
      }
      // Sleep in slices of at most 200 ms so a long delay never holds up a stop request.
      for (std::int64_t t = now_ns(); t < frame.release_ns && !g_stop; t = now_ns()) {
        const std::int64_t wake = std::min(frame.release_ns, t + 200'000'000);
        const timespec until{static_cast<time_t>(wake / 1'000'000'000),
                             static_cast<long>(wake % 1'000'000'000)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
      }
      if (g_stop) return;
      for (int copy = 0; copy < frame.copies; ++copy) {
        if (!send_one(frame)) break;
        if (copy > 0) ++duplicated_;
      }
    }
  }

  bool send_one(const Frame& frame) {
    if (send(out_fd_, frame.bytes.data(), frame.bytes.size(), 0) < 0) {
      ++send_errors_;  // ENOBUFS, EMSGSIZE, a link going down: lost like on a wire
      // The key may or may not have been used: re-arming restarts the kernel's count.
      if (send_log_) {
        const unsigned off = 0;
        setsockopt(out_fd_, SOL_SOCKET, SO_TIMESTAMPING, &off, sizeof off);
        enable_link_stamps(out_fd_);
        send_key_ = 0;
      }
      return false;
    }
    ++forwarded_;
    if (send_log_) {
      send_log_->write(take_send_stamp(out_fd_, send_key_), frame.bytes.data(), frame.bytes.size());
      ++send_key_;
    }
    return true;
  }

  void report() const {
    std::fprintf(stderr,
                 "lab_delay_line: %s received=%llu forwarded=%llu lost=%llu bursts=%llu "
                 "held=%llu duplicated=%llu overflow=%llu truncated=%llu send_errors=%llu\n",
                 name_, static_cast<unsigned long long>(received_.load()),
                 static_cast<unsigned long long>(forwarded_.load()),
                 static_cast<unsigned long long>(lost_.load()),
                 static_cast<unsigned long long>(bursts_.load()),
                 static_cast<unsigned long long>(held_count_.load()),
                 static_cast<unsigned long long>(duplicated_.load()),
                 static_cast<unsigned long long>(overflow_.load()),
                 static_cast<unsigned long long>(truncated_.load()),
                 static_cast<unsigned long long>(send_errors_.load()));
  }

 private:
  // 53 random bits -> uniform [0, 1): a share of 1.0 takes everything, 0.0 nothing.
  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

  // Whether the frame just read is lost: inside a run, or the first of a new one.
  bool drop_this() {
    if (run_left_ > 0) {
      --run_left_;
      return true;
    }
    if (uniform() < run_start_) {
      ++bursts_;
      run_left_ = faults_.burst - 1;
      return true;
    }
    return false;
  }

  const char* name_;
  int in_fd_;
  int out_fd_;
  std::int64_t delay_ns_;
  Faults faults_;
  double run_start_;  // probability that a frame starts a loss run (= loss when burst is 1)
  long run_left_ = 0;
  std::mt19937_64 rng_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Frame> main_;  // delayed by D, in release order
  std::deque<Frame> held_;  // delayed by D + X, in release order
  std::size_t queued_bytes_ = 0;
  std::atomic<std::uint64_t> received_{0}, forwarded_{0}, lost_{0}, bursts_{0}, held_count_{0},
      duplicated_{0}, overflow_{0}, truncated_{0}, send_errors_{0};
  LinkLog* read_log_ = nullptr;
  LinkLog* send_log_ = nullptr;
  std::uint32_t send_key_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);

  // Block the stop signals everywhere; the main thread takes them with sigtimedwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const int fd_a = open_port(opt.if_a);
  const int fd_b = open_port(opt.if_b);
  const auto delay_ns = static_cast<std::int64_t>(opt.delay_ms * 1e6);
  const int send_a = opt.pcap.empty() ? fd_a : open_sender(opt.if_a);
  // Distinct streams per direction keep each one reproducible whatever the interleaving.
  Faults faults;
  faults.loss = opt.loss;
  faults.burst = static_cast<long>(opt.burst);
  faults.reorder = opt.reorder;
  faults.reorder_ns = static_cast<std::int64_t>(opt.reorder_ms * 1e6);
  faults.duplicate = opt.duplicate;
  Direction a_to_b("a->b", fd_a, fd_b, delay_ns, faults, opt.seed);
  Direction b_to_a("b->a", fd_b, send_a, delay_ns, faults, opt.seed ^ 0x9e3779b97f4a7c15ULL);
  LinkLog link_log;
  if (!opt.pcap.empty()) {
    if (!link_log.open(opt.pcap)) {
      std::fprintf(stderr, "lab_delay_line: --pcap %s: %s\n", opt.pcap.c_str(), std::strerror(errno));
      return 4;
    }
    if (!enable_link_stamps(fd_a) || !enable_link_stamps(send_a)) {
      std::fprintf(stderr, "lab_delay_line: SO_TIMESTAMPING on %s: %s\n", opt.if_a.c_str(),
                   std::strerror(errno));
      return 4;
    }
    a_to_b.log_reads(&link_log);
    b_to_a.log_sends(&link_log);
  }

  std::vector<std::thread> threads;
  threads.emplace_back([&] { a_to_b.read_loop(); });
  threads.emplace_back([&] { a_to_b.write_loop(); });
  threads.emplace_back([&] { b_to_a.read_loop(); });
  threads.emplace_back([&] { b_to_a.write_loop(); });

  std::printf("ready\n");
  std::fflush(stdout);

  const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(opt.max_seconds * 1e9);
  while (!g_stop) {
    const std::int64_t left = deadline - now_ns();
    if (left <= 0) {
      std::fprintf(stderr, "lab_delay_line: --max-seconds reached, stopping\n");
      break;
    }
    const std::int64_t wait = std::min<std::int64_t>(left, 1'000'000'000);
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    if (sigtimedwait(&stop_signals, nullptr, &ts) > 0) break;
  }
  g_stop = true;
  for (auto& t : threads) t.join();
  a_to_b.report();
  b_to_a.report();
  link_log.close();
  if (send_a != fd_a) close(send_a);
  close(fd_a);
  close(fd_b);
  return g_failed ? 1 : 0;
}
