#include "tcpkit/io/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "tcpkit/io/unique_fd.hpp"

namespace tcpkit {

bool valid_netns_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == '\0') return false;
  return true;
}

Result<void> enter_netns(const std::string& name) {
  if (!valid_netns_name(name)) return fail(ErrorCode::bad_input, "invalid network namespace name '" + name + "'");
  const std::string path = "/run/netns/" + name;
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int e = errno;
    if (e == ENOENT) return fail(ErrorCode::bad_input, "no network namespace '" + name + "' (see `ip netns list`)", e);
    return fail_errno("cannot open " + path, e);
  }
  const int rc = ::setns(fd.get(), CLONE_NEWNET);
  const int e = errno;
  if (rc != 0) {
    if (e == EPERM) return fail(ErrorCode::privilege, "entering network namespace '" + name + "' needs CAP_SYS_ADMIN: run as root", e);
    return fail_errno("cannot enter network namespace '" + name + "'", e);
  }
  return {};
}

}  // namespace tcpkit
