#pragma once
// Errors that library calls return instead of throwing. A timeout, an RST or an ICMP
// unreachable is an outcome, never an Error.
#include <string>
#include <tl/expected.hpp>

namespace tcpkit {

enum class ErrorCode {
  bad_input,    // the caller's input is wrong: a bad port, an unknown service, unreadable text
  privilege,    // a capability is missing (CAP_NET_RAW, CAP_NET_ADMIN)
  system,       // the environment failed: a socket call, a missing interface, no route
};

struct Error {
  ErrorCode code = ErrorCode::system;
  int err_no = 0;        // errno when a system call failed, else 0
  std::string message;   // one human sentence, no trailing newline
};

template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message, int err_no = 0) {
  return tl::unexpected<Error>(Error{code, err_no, std::move(message)});
}

// "what: strerror(errno)" with the code that errno implies (EPERM/EACCES mean privilege).
tl::unexpected<Error> fail_errno(const std::string& what, int err_no);

}  // namespace tcpkit
