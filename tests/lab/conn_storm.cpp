// lab_conn_storm: short TCP connections over loopback at a steady rate, for the follow bench.
//
//   lab_conn_storm --count N --rate R [--family v4|v6] [--port P] [--max-seconds S]
//
// In the current network namespace it listens on 127.0.0.1:P (or [::1]:P), and one thread
// accepts and closes each connection at once while another connects N times, R per second
// on an absolute schedule, closing each connection right after connect() returns (the client
// closes first, so the TIME_WAIT sockets are the client's; loopback reuses their ports); the
// server reads to the client's FIN before it closes. Each connection starts one client socket
// and one server child and ends both, so a tracer that sees everything sees exactly N of each. Bounded by the count and by --max-seconds. On exit one line:
//   {"connections":N,"failed":F,"accepted":A,"seconds":T,"rate":X}
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

namespace {

struct Options {
  long count = 1000;
  long rate = 1000;
  bool v6 = false;
  int port = 7070;
  long max_seconds = 60;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "lab_conn_storm: %s\nusage: lab_conn_storm --count N --rate R [--family v4|v6] [--port P] [--max-seconds S]\n", why);
  std::exit(2);
}

long number(const char* text, long low, long high, const char* what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < low || v > high) usage(what);
  return v;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("every flag takes a value");
    const char* value = argv[++i];
    if (flag == "--count") o.count = number(value, 1, 10'000'000, "--count must be 1..10000000");
    else if (flag == "--rate") o.rate = number(value, 1, 1'000'000, "--rate must be 1..1000000");
    else if (flag == "--port") o.port = int(number(value, 1, 65535, "--port must be 1..65535"));
    else if (flag == "--max-seconds") o.max_seconds = number(value, 1, 3600, "--max-seconds must be 1..3600");
    else if (flag == "--family") {
      if (std::strcmp(value, "v4") != 0 && std::strcmp(value, "v6") != 0) usage("--family is v4 or v6");
      o.v6 = std::strcmp(value, "v6") == 0;
    } else usage(("unknown flag " + flag).c_str());
  }
  return o;
}

socklen_t loopback(const Options& o, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (o.v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(uint16_t(o.port));
    a->sin6_addr = in6addr_loopback;
    return sizeof(sockaddr_in6);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(uint16_t(o.port));
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(sockaddr_in);
}

double now_s() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

void sleep_until(double when) {
  timespec t{};
  t.tv_sec = time_t(when);
  t.tv_nsec = long((when - double(t.tv_sec)) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  sockaddr_storage addr{};
  const socklen_t len = loopback(o, addr);
  const int family = o.v6 ? AF_INET6 : AF_INET;
  const int listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 4096) != 0) {
    std::fprintf(stderr, "lab_conn_storm: listen on port %d: %s\n", o.port, std::strerror(errno));
    return 4;
  }
  const double start = now_s();
  const double deadline = start + double(o.max_seconds);
  std::atomic<long> accepted{0};
  std::atomic<bool> done{false};
  std::thread acceptor([&] {
    // A receive timeout lets the thread see `done` even when no connection comes.
    timeval tv{0, 100'000};
    setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!done && now_s() < deadline + 3) {
      const int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      // Read to the client's FIN (bounded by the receive timeout the socket inherits), so
      // that the server always closes second.
      char sink[64];
      while (read(c, sink, sizeof sink) > 0) {
      }
      close(c);
      ++accepted;
    }
  });
  long made = 0, failed = 0;
  for (long i = 0; i < o.count && now_s() < deadline; ++i) {
    sleep_until(start + double(i) / double(o.rate));
    const int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&addr), len) != 0) ++failed;
    else ++made;
    if (s >= 0) close(s);
  }
  // Let the acceptor take what is queued (bounded), then stop it.
  const double drain_until = now_s() + 2;
  while (accepted < made && now_s() < drain_until) sleep_until(now_s() + 0.01);
  done = true;
  acceptor.join();
  close(listener);
  const double seconds = now_s() - start;
  std::printf("{\"connections\":%ld,\"failed\":%ld,\"accepted\":%ld,\"seconds\":%.3f,\"rate\":%.0f}\n", made, failed,
              accepted.load(), seconds, double(made) / seconds);
  return failed == 0 ? 0 : 1;
}
