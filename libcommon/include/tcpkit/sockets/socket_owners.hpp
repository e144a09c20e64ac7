#pragma once
// Which processes hold which sockets: the socket:[INODE] links under /proc/PID/fd, with the
// name from /proc/PID/comm, as ss -p finds them. Processes that vanish during the scan are
// skipped; those we may not look into are skipped and counted (processes_denied).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tcpkit/sockets/socket_record.hpp"

namespace tcpkit {

class SocketOwners {
 public:
  // Scans /proc (or another proc root, for tests). With wanted, only those inodes are kept:
  // every link is still read, but a few sockets among hundreds of thousands cost no memory.
  static SocketOwners scan(const std::string& proc_root = "/proc", const std::unordered_set<uint64_t>* wanted = nullptr);
  // The owners of a socket inode, or nullptr.
  const std::vector<ProcessRef>* find(uint64_t inode) const;
  size_t processes_scanned() const { return processes_; }
  // Processes whose fd directory we may not read (another user's, without root): their
  // sockets have no owner here although they have one.
  size_t processes_denied() const { return denied_; }
  // errno when proc_root could not be read (0: it was), or the scan stopped part-way for want
  // of descriptors or memory (EMFILE, ENFILE, ENOMEM): then some or all sockets lack an owner.
  int proc_error() const { return proc_error_; }

 private:
  std::unordered_map<uint64_t, std::vector<ProcessRef>> owners_;
  size_t processes_ = 0;
  size_t denied_ = 0;
  int proc_error_ = 0;
};

}  // namespace tcpkit
