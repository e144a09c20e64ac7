#include "tcpkit/sockets/listen_queues.hpp"

#include <dlfcn.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tcpkit/io/dl_symbol.hpp"
#include "tcpkit/sockets/listen_queue_record.h"
#ifdef TCPKIT_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif

namespace tcpkit {

Result<ListenQueueChunk> decode_listen_queue_records(std::span<const uint8_t> bytes, std::vector<ListenQueue>& out) {
  ListenQueueChunk chunk;
  tcpkit_listen_queue_record r{};
  while (bytes.size() - chunk.used >= sizeof r) {
    std::memcpy(&r, bytes.data() + chunk.used, sizeof r);
    if (r.kind == TCPKIT_LQ_END) {
      chunk.ended = true;
      return chunk;
    }
    if (r.kind != TCPKIT_LQ_LISTENER || (r.family != AF_INET && r.family != AF_INET6))
      return fail(ErrorCode::system, "listener queues: a record of unknown kind from the BPF iterator");
    chunk.used += sizeof r;
    ListenQueue q;
    q.address = r.family == AF_INET ? IpAddress::from_v4(r.address) : IpAddress::from_v6(r.address);
    q.port = r.port;
    q.request_sockets = r.request_sockets;
    q.accept_queue = r.accept_queue;
    q.backlog = r.backlog;
    q.bound_interface = r.bound_interface;
    out.push_back(q);
  }
  return chunk;
}

#ifndef TCPKIT_HAVE_BPF

Result<std::vector<ListenQueue>> read_listen_queues() {
  return fail(ErrorCode::system, "listener queues: this build has no BPF programs (clang, bpftool, libbpf-dev)");
}

#else

namespace {

alignas(8) constexpr unsigned char kProgramObject[] = {
#include "listen_queues.bpf.inc"
};

// libbpf is loaded on first use, not linked: only tcpstate syn-flood needs it, and every tool
// would otherwise load it (and libelf, libz) at start-up.
struct Libbpf {
  decltype(&libbpf_set_print) set_print = nullptr;
  decltype(&bpf_object__open_mem) open_mem = nullptr;
  decltype(&bpf_object__load) load = nullptr;
  decltype(&bpf_object__find_program_by_name) find_program = nullptr;
  decltype(&bpf_program__attach_iter) attach_iter = nullptr;
  decltype(&bpf_link__fd) link_fd = nullptr;
  decltype(&bpf_iter_create) iter_create = nullptr;
  decltype(&bpf_link__destroy) link_destroy = nullptr;
  decltype(&bpf_object__close) close = nullptr;
};

// libbpf's own messages go nowhere: the library never prints, and the caller gets one Error.
int quiet(enum libbpf_print_level /*level*/, const char* /*format*/, va_list /*args*/) { return 0; }

Result<Libbpf> load_libbpf() {
  void* handle = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    return fail(ErrorCode::system, std::string("listener queues need libbpf.so.1 (package libbpf1): ") + (e ? e : "not found"));
  }
  Libbpf b;  // kept loaded for the life of the process
  auto find = [handle](auto& slot, const char* symbol) { return load_symbol(handle, symbol, slot); };
  if (!find(b.set_print, "libbpf_set_print") || !find(b.open_mem, "bpf_object__open_mem") ||
      !find(b.load, "bpf_object__load") || !find(b.find_program, "bpf_object__find_program_by_name") ||
      !find(b.attach_iter, "bpf_program__attach_iter") || !find(b.link_fd, "bpf_link__fd") ||
      !find(b.iter_create, "bpf_iter_create") || !find(b.link_destroy, "bpf_link__destroy") ||
      !find(b.close, "bpf_object__close"))
    return fail(ErrorCode::system, "the libbpf.so.1 found lacks the iterator calls (libbpf 1.0 or later is needed)");
  b.set_print(quiet);
  return b;
}

// The object, link and iterator of one read, released in reverse order.
class IteratorRun {
 public:
  explicit IteratorRun(const Libbpf& b) : b_(b) {}
  IteratorRun(const IteratorRun&) = delete;
  IteratorRun& operator=(const IteratorRun&) = delete;
  ~IteratorRun() {
    if (iter_fd_ >= 0) ::close(iter_fd_);
    if (link_) b_.link_destroy(link_);
    if (object_) b_.close(object_);
  }

  Result<int> start() {
    object_ = b_.open_mem(kProgramObject, sizeof kProgramObject, nullptr);
    if (!object_) return fail_errno("listener queues: open the BPF object", errno);
    if (const int e = b_.load(object_); e != 0) return load_error(-e);
    bpf_program* program = b_.find_program(object_, "listen_queues");
    if (!program) return fail(ErrorCode::system, "listener queues: the BPF object has no listen_queues program");
    link_ = b_.attach_iter(program, nullptr);
    if (!link_) return fail_errno("listener queues: attach the TCP iterator", errno);
    iter_fd_ = b_.iter_create(b_.link_fd(link_));
    if (iter_fd_ < 0) return fail_errno("listener queues: create the iterator", errno);
    return iter_fd_;
  }

 private:
  static tl::unexpected<Error> load_error(int e) {
    if (e == EPERM || e == EACCES)
      return fail(ErrorCode::privilege, "listener queues: loading a BPF program needs CAP_BPF and CAP_PERFMON", e);
    if (e == ENOENT || e == ESRCH || e == ENOTSUP || e == EOPNOTSUPP)
      return fail(ErrorCode::system, "listener queues: this kernel has no BTF or no TCP iterator", e);
    return fail_errno("listener queues: load the BPF program", e);
  }
  const Libbpf& b_;
  bpf_object* object_ = nullptr;
  bpf_link* link_ = nullptr;
  int iter_fd_ = -1;
};

}  // namespace

Result<std::vector<ListenQueue>> read_listen_queues() {
  static const Result<Libbpf> libbpf = load_libbpf();
  if (!libbpf) return tl::unexpected(libbpf.error());
  IteratorRun run(*libbpf);
  auto fd = run.start();
  if (!fd) return tl::unexpected(fd.error());
  std::vector<ListenQueue> queues;
  // Reads of exactly the end record's size: the kernel stops filling a read once it holds this
  // many bytes, so the end record ends the read in which it is written (see the program).
  std::vector<uint8_t> buffer(size_t{2} * TCPKIT_LQ_END_BYTES);
  size_t have = 0;
  // Bounded: at most one read per record a namespace can hold, and then some.
  for (int reads = 0; reads < 1'000'000; ++reads) {
    const ssize_t n = ::read(*fd, buffer.data() + have, TCPKIT_LQ_END_BYTES);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("listener queues: read the iterator", errno);
    if (n == 0) return queues;  // no socket but listeners in the namespace: the walk ended
    have += static_cast<size_t>(n);
    auto chunk = decode_listen_queue_records({buffer.data(), have}, queues);
    if (!chunk) return tl::unexpected(chunk.error());
    if (chunk->ended) return queues;
    std::memmove(buffer.data(), buffer.data() + chunk->used, have - chunk->used);
    have -= chunk->used;
  }
  return fail(ErrorCode::system, "listener queues: the iterator did not end");
}

#endif

}  // namespace tcpkit
