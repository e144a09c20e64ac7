#include "tcpkit/sockets/socket_owners.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "tcpkit/io/unique_fd.hpp"

namespace tcpkit {

namespace {

// What /proc/PID/fd/N links to for a socket: "socket:[INODE]".
constexpr std::string_view kSocketLinkOpen = "socket:[", kSocketLinkClose = "]";

bool all_digits(const char* s) {
  if (!*s) return false;
  for (; *s; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

std::string read_comm(int proc_fd, const char* pid) {
  const std::string path = std::string(pid) + "/comm";
  const UniqueFd fd(::openat(proc_fd, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  char buf[64];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n <= 0) return "";
  std::string name(buf, static_cast<size_t>(n));
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

}  // namespace

SocketOwners SocketOwners::scan(const std::string& proc_root, const std::unordered_set<uint64_t>* wanted) {
  SocketOwners out;
  const UniqueFd proc_dir(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc_dir.valid()) {
    out.proc_error_ = errno;
    return out;
  }
  const int proc_fd = proc_dir.get();
  const int list_fd = ::dup(proc_fd);
  DIR* proc = list_fd < 0 ? nullptr : ::fdopendir(list_fd);
  if (!proc) {
    out.proc_error_ = errno;
    if (list_fd >= 0) ::close(list_fd);
    return out;
  }
  while (const dirent* pe = ::readdir(proc)) {
    if (!all_digits(pe->d_name)) continue;
    const std::string fd_dir = std::string(pe->d_name) + "/fd";
    const int dfd = ::openat(proc_fd, fd_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      if (errno == EACCES || errno == EPERM) ++out.denied_;
      // Out of descriptors or memory: every later process would be skipped too. Say so.
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
        out.proc_error_ = errno;
        break;
      }
      continue;
    }
    DIR* fds = ::fdopendir(dfd);
    if (!fds) {
      ::close(dfd);
      continue;
    }
    ++out.processes_;
    std::string comm;
    bool comm_read = false;
    const int pid = static_cast<int>(parse_uint(pe->d_name, INT32_MAX).value_or(0));
    while (const dirent* fe = ::readdir(fds)) {
      if (!all_digits(fe->d_name)) continue;
      char link[64];  // "socket:[", at most 20 digits, "]"; longer links are no sockets
      const ssize_t n = ::readlinkat(dfd, fe->d_name, link, sizeof link - 1);
      if (n <= 0) continue;
      std::string_view target(link, static_cast<size_t>(n));
      if (!target.starts_with(kSocketLinkOpen) || !target.ends_with(kSocketLinkClose)) continue;
      target.remove_prefix(kSocketLinkOpen.size());
      target.remove_suffix(kSocketLinkClose.size());
      const auto inode = parse_uint(target);
      if (!inode || (wanted && !wanted->count(*inode))) continue;
      if (!comm_read) {
        comm = read_comm(proc_fd, pe->d_name);
        comm_read = true;
      }
      out.owners_[*inode].push_back(ProcessRef{comm, pid, static_cast<int>(parse_uint(fe->d_name, INT32_MAX).value_or(0))});
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  return out;
}

const std::vector<ProcessRef>* SocketOwners::find(uint64_t inode) const {
  if (inode == 0) return nullptr;
  auto it = owners_.find(inode);
  return it == owners_.end() ? nullptr : &it->second;
}

}  // namespace tcpkit
