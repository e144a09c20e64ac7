#pragma once
// Every listener's request-socket (SYN_RECV) count in the caller's network namespace, read
// from the listeners themselves by a BPF iterator (libcommon/bpf/listen_queues.bpf.c).
// sock_diag and /proc/net/tcp can count SYN_RECV sockets only by walking the host's whole
// established hash, whose cost grows with every socket of every namespace; this costs the
// program's load (libbpf reading the kernel's BTF, ~15 ms) and not the walk.
// Needs kernel BTF, libbpf.so.1 at run time (loaded on first use, not linked) and
// CAP_BPF + CAP_PERFMON: callers fall back to the walk when it fails.
#include <cstdint>
#include <span>
#include <vector>

#include "tcpkit/util/error.hpp"
#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct ListenQueue {
  IpAddress address;
  uint16_t port = 0;
  uint32_t request_sockets = 0;  // SYN_RECV: handshakes begun, not completed
  uint32_t accept_queue = 0;     // completed, waiting for accept()
  uint32_t backlog = 0;
  uint32_t bound_interface = 0;  // 0 when not bound to a device
};

// The listeners of the caller's network namespace. Errors: privilege (EPERM from the load),
// system (no BTF, no libbpf.so.1, not built with BPF, a broken read).
Result<std::vector<ListenQueue>> read_listen_queues();

// Decodes the iterator's output (tcpkit_listen_queue_record, listen_queue_record.h) appended to
// `out`. Returns the bytes used (whole records only; the rest waits for more input), and sets
// `ended` at the end record. A record of unknown kind is an error: the program and its reader
// disagree, and nothing after it can be trusted.
struct ListenQueueChunk {
  size_t used = 0;
  bool ended = false;
};
Result<ListenQueueChunk> decode_listen_queue_records(std::span<const uint8_t> bytes, std::vector<ListenQueue>& out);

}  // namespace tcpkit
