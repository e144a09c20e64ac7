#include "tcpkit/util/error.hpp"

#include <cerrno>
#include <cstring>

namespace tcpkit {

tl::unexpected<Error> fail_errno(const std::string& what, int err_no) {
  const ErrorCode code = (err_no == EPERM || err_no == EACCES) ? ErrorCode::privilege : ErrorCode::system;
  return fail(code, what + ": " + std::strerror(err_no), err_no);
}

}  // namespace tcpkit
