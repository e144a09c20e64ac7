// tcpstate follow's loader: opens the BPF skeleton built from libcommon/bpf/state_follow.bpf.c,
// attaches it as tp_btf (CAP_BPF + CAP_PERFMON are enough) or else as the plain tracepoint
// (tracefs), and turns the ring buffer's records into StateChange. Without libbpf, bpftool and
// clang at build time (TCPKIT_HAVE_BPF unset) it only says that follow is unavailable.
#include "tcpkit/sockets/state_follow.hpp"

#ifdef TCPKIT_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <vector>

#include "state_follow.skel.h"
#include "state_follow_event.h"

namespace tcpkit {

namespace {

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";
constexpr int kAfInet6 = 10;

// The library never prints: libbpf's own messages are dropped, its errors come back as errno.
int quiet(enum libbpf_print_level /*level*/, const char* /*format*/, va_list /*args*/) { return 0; }

StateChange to_change(const tcpkit_state_event& e) {
  StateChange c;
  c.time_ns = e.time_ns;
  if (e.old_known) c.in_old_state_ns = e.in_old_state_ns;
  c.socket = e.socket;
  c.local = e.family == kAfInet6 ? IpAddress::from_v6(e.saddr) : IpAddress::from_v4(e.saddr);
  c.remote = e.family == kAfInet6 ? IpAddress::from_v6(e.daddr) : IpAddress::from_v4(e.daddr);
  c.local_port = e.sport;
  c.remote_port = e.dport;
  c.old_state = state_from_kernel(e.old_state).value_or(TcpState::close);
  c.new_state = state_from_kernel(e.new_state).value_or(TcpState::close);
  c.error = e.error;
  c.bytes_acked = e.bytes_acked;
  c.bytes_received = e.bytes_received;
  return c;
}

class BpfFollower final : public StateFollower {
 public:
  BpfFollower(state_follow_bpf* skel, bool btf) : skel_(skel), btf_(btf) {}
  ~BpfFollower() override {
    ring_buffer__free(ring_);
    state_follow_bpf__destroy(skel_);
  }
  BpfFollower(const BpfFollower&) = delete;
  BpfFollower& operator=(const BpfFollower&) = delete;

  Result<void> open_ring() {
    ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &BpfFollower::on_record, this, nullptr);
    if (!ring_) return fail_errno("BPF ring buffer", errno);
    return {};
  }

  Result<size_t> poll(int timeout_ms, const std::function<void(const StateChange&)>& sink) override {
    sink_ = &sink;
    const int n = ring_buffer__poll(ring_, timeout_ms);
    sink_ = nullptr;
    if (n == -EINTR) return size_t{0};
    if (n < 0) return fail_errno("BPF ring buffer poll", -n);
    return static_cast<size_t>(n);
  }

  Result<size_t> drain(const std::function<void(const StateChange&)>& sink) override {
    sink_ = &sink;
    const int n = ring_buffer__consume(ring_);
    sink_ = nullptr;
    if (n < 0) return fail_errno("BPF ring buffer read", -n);
    return static_cast<size_t>(n);
  }

  FollowLosses losses() const override {
    FollowLosses l;
    l.ring_drops = per_cpu_sum(skel_->maps.ring_drops);
    l.path_gaps = per_cpu_sum(skel_->maps.path_gaps);
    // follow_btf's misses that follow_btf_nested took are not losses.
    const uint64_t misses = recursion_misses(btf_ ? skel_->progs.follow_btf : skel_->progs.follow_tracepoint);
    l.rescued = btf_ ? per_cpu_sum(skel_->maps.rescued) : 0;
    l.recursion_misses = misses > l.rescued ? misses - l.rescued : 0;
    return l;
  }

  std::string attachment() const override { return btf_ ? "tp_btf" : "tracepoint"; }

 private:
  // The sum over CPUs of a one-entry per-CPU counter map.
  static uint64_t per_cpu_sum(const bpf_map* map) {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return 0;
    std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
    const uint32_t zero = 0;
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(map), &zero, per_cpu.data()) == 0)
      for (uint64_t n : per_cpu) sum += n;
    return sum;
  }

  static uint64_t recursion_misses(const bpf_program* prog) {
    bpf_prog_info info{};
    uint32_t length = sizeof info;
    return bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &length) == 0 ? info.recursion_misses : 0;
  }

  static int on_record(void* self, void* data, size_t size) {
    auto* me = static_cast<BpfFollower*>(self);
    if (size < sizeof(tcpkit_state_event) || me->sink_ == nullptr) return 0;
    tcpkit_state_event e;
    std::memcpy(&e, data, sizeof e);
    (*me->sink_)(to_change(e));
    return 0;
  }

  state_follow_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  bool btf_ = true;
  const std::function<void(const StateChange&)>* sink_ = nullptr;
};

// Opens, loads and attaches one of the two programs; returns the skeleton or the errno.
state_follow_bpf* attach_one(uint32_t netns_inode, bool btf, int& err) {
  state_follow_bpf* skel = state_follow_bpf__open();
  if (!skel) {
    err = errno;
    return nullptr;
  }
  skel->rodata->follow_netns = netns_inode;
  bpf_program__set_autoload(skel->progs.follow_btf, btf);
  bpf_program__set_autoload(skel->progs.follow_btf_nested, btf);
  bpf_program__set_autoload(skel->progs.follow_tracepoint, !btf);
  err = -state_follow_bpf__load(skel);
  if (err == 0) {
    // The nested-change taker first: follow_btf never runs without it behind.
    if (btf && !(skel->links.follow_btf_nested = bpf_program__attach(skel->progs.follow_btf_nested))) err = errno;
    bpf_link* link = err ? nullptr : bpf_program__attach(btf ? skel->progs.follow_btf : skel->progs.follow_tracepoint);
    if (link) {
      (btf ? skel->links.follow_btf : skel->links.follow_tracepoint) = link;
      return skel;
    }
    if (!err) err = errno;
  }
  state_follow_bpf__destroy(skel);
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<StateFollower>> start_state_follower(uint32_t netns_inode) {
  libbpf_set_print(quiet);
  struct stat st {};
  if (stat(kVmlinuxBtf, &st) != 0)
    return fail(ErrorCode::system, std::string("no BTF: ") + kVmlinuxBtf +
                                       " is missing (a kernel without CONFIG_DEBUG_INFO_BTF cannot run follow)");
  int btf_err = 0;
  int tp_err = 0;
  bool btf = true;
  state_follow_bpf* skel = attach_one(netns_inode, true, btf_err);
  if (!skel) {
    btf = false;
    skel = attach_one(netns_inode, false, tp_err);
  }
  if (!skel) {
    if (btf_err == EPERM || btf_err == EACCES)
      return fail(ErrorCode::privilege,
                  "loading the BPF program needs CAP_BPF and CAP_PERFMON",
                  btf_err);
    if (btf_err == ENOSYS)
      return fail(ErrorCode::system, "no BPF: this kernel has no bpf() system call (CONFIG_BPF_SYSCALL)", btf_err);
    return fail(ErrorCode::system,
                std::string("the BPF program could not attach: tp_btf: ") + std::strerror(btf_err) +
                    "; tracepoint: " + std::strerror(tp_err),
                btf_err);
  }
  auto follower = std::make_unique<BpfFollower>(skel, btf);
  if (auto r = follower->open_ring(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<StateFollower>(std::move(follower));
}

}  // namespace tcpkit

#else  // no libbpf, bpftool or clang at build time: nothing else of the project depends on BPF

namespace tcpkit {

Result<std::unique_ptr<StateFollower>> start_state_follower(uint32_t /*netns_inode*/) {
  return fail(ErrorCode::system,
              "follow is unavailable: this tcpstate was built without libbpf, bpftool and clang "
              "(install libbpf-dev, bpftool and clang and build again)");
}

}  // namespace tcpkit

#endif  // TCPKIT_HAVE_BPF
