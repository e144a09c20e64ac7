// lab_delay_line: a layer-2 bridge between two interfaces that delays every frame by D ms
// and drops a seeded share of them. The kernel here has no netem, so the lab gets known
// latency and loss from this program running in a middle namespace.
//
//   lab_delay_line --a IF --b IF --delay-ms D --loss P --seed S [--max-seconds N]
//
// Per direction one reader thread stamps each frame on arrival (CLOCK_MONOTONIC) and queues
// it; one writer thread sleeps until arrival + D with an absolute clock_nanosleep and sends
// it. Queues are FIFO, so frames keep their order. Exit codes: 0 stopped by SIGTERM/SIGINT
// or --max-seconds, 1 a socket failed while running, 2 bad flags, 3 no CAP_NET_RAW,
// 4 other setup failure.

#include <arpa/inet.h>
#include <linux/if_ether.h>
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
  std::uint64_t seed = 0;
  bool seed_set = false;
  double max_seconds = 3600;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "lab_delay_line: %s (usage: --a IF --b IF --delay-ms D --loss P --seed S "
               "[--max-seconds N])\n", why.c_str());
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
                  "[--max-seconds N]\n");
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
    } else if (flag == "--seed") {
      char* end = nullptr;
      errno = 0;
      o.seed = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0) {
        usage_error("--seed wants an unsigned integer, got '" + value + "'");
      }
      o.seed_set = true;
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
  // Readers wake up regularly to notice a stop request.
  timeval tv{0, 200'000};
  check(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), "SO_RCVTIMEO");
  const int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);  // best effort
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  return fd;
}

struct Frame {
  std::int64_t release_ns;
  std::vector<std::uint8_t> bytes;
};

// One direction: frames read on in_fd leave on out_fd after delay_ns.
class Direction {
 public:
  Direction(const char* name, int in_fd, int out_fd, std::int64_t delay_ns, double loss,
            std::uint64_t seed)
      : name_(name), in_fd_(in_fd), out_fd_(out_fd), delay_ns_(delay_ns), loss_(loss),
        rng_(seed) {}

  void read_loop() {
    try_realtime();
    std::vector<std::uint8_t> buf(kMaxFrame);
    while (!g_stop) {
      sockaddr_ll from{};
      socklen_t from_len = sizeof from;
      const ssize_t n = recvfrom(in_fd_, buf.data(), buf.size(), MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
      const std::int64_t arrival = now_ns();
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
      if (static_cast<std::size_t>(n) > buf.size()) {
        ++truncated_;
        continue;
      }
      // 53 random bits -> uniform [0, 1); loss 1.0 drops everything, 0.0 nothing.
      const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
      if (u < loss_) {
        ++lost_;
        continue;
      }
      std::lock_guard lock(mu_);
      if (queue_.size() >= kMaxQueuedFrames || queued_bytes_ + n > kMaxQueuedBytes) {
        ++overflow_;
        continue;
      }
      queue_.push_back(Frame{arrival + delay_ns_, {buf.begin(), buf.begin() + n}});
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
                     [&] { return g_stop.load() || !queue_.empty(); });
        if (g_stop) return;
        if (queue_.empty()) continue;
        frame = std::move(queue_.front());
        queue_.pop_front();
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
      if (send(out_fd_, frame.bytes.data(), frame.bytes.size(), 0) < 0) {
        ++send_errors_;  // ENOBUFS, EMSGSIZE, a link going down: lost like on a wire
      } else {
        ++forwarded_;
      }
    }
  }

  void report() const {
    std::fprintf(stderr,
                 "lab_delay_line: %s received=%llu forwarded=%llu lost=%llu overflow=%llu "
                 "truncated=%llu send_errors=%llu\n",
                 name_, static_cast<unsigned long long>(received_.load()),
                 static_cast<unsigned long long>(forwarded_.load()),
                 static_cast<unsigned long long>(lost_.load()),
                 static_cast<unsigned long long>(overflow_.load()),
                 static_cast<unsigned long long>(truncated_.load()),
                 static_cast<unsigned long long>(send_errors_.load()));
  }

 private:
  const char* name_;
  int in_fd_;
  int out_fd_;
  std::int64_t delay_ns_;
  double loss_;
  std::mt19937_64 rng_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::atomic<std::uint64_t> received_{0}, forwarded_{0}, lost_{0}, overflow_{0}, truncated_{0},
      send_errors_{0};
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
  // Distinct streams per direction keep each one reproducible whatever the interleaving.
  Direction a_to_b("a->b", fd_a, fd_b, delay_ns, opt.loss, opt.seed);
  Direction b_to_a("b->a", fd_b, fd_a, delay_ns, opt.loss, opt.seed ^ 0x9e3779b97f4a7c15ULL);

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
  close(fd_a);
  close(fd_b);
  return g_failed ? 1 : 0;
}
