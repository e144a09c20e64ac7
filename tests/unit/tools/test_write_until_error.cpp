// The write function behind every tool's stdout (a fopencookie stream) must say how many bytes
// went and never return a negative count: glibc's fwrite reads past the caller's buffer after a
// -1 (a segfault of `tcpstate --from BIG | head -1`).
#include <catch2/catch.hpp>

#include <csignal>
#include <cerrno>
#include <string>
#include <unistd.h>

#include "common/cli_common.hpp"

using tcpkit::cli::write_until_error;

TEST_CASE("a write to stdout's fd reports the bytes written and the error, never a negative count") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string text(1000, 'x');
  int error = -1;
  CHECK(write_until_error(fds[1], text.data(), text.size(), error) == text.size());
  CHECK(error == 0);

  ::close(fds[0]);  // the reader goes away
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGPIPE, &ignore, &old) == 0);  // as the tools run: a gone reader is EPIPE
  const size_t written = write_until_error(fds[1], text.data(), text.size(), error);
  ::sigaction(SIGPIPE, &old, nullptr);
  CHECK(written == 0);
  CHECK(error == EPIPE);
  ::close(fds[1]);
}
