// SPDX-License-Identifier: GPL-2.0
// tcpstate follow's kernel half: every TCP state change (sock:inet_sock_set_state) of one
// network namespace, with the time the socket spent in the state it leaves, into a ring buffer.
// Built with CO-RE against the build machine's vmlinux.h; the object relocates to the running
// kernel's BTF when loaded. The event layout is shared with state_follow_event.h.
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "state_follow_event.h"

#define TCPKIT_AF_INET 2
#define TCPKIT_AF_INET6 10
#define TCPKIT_IPPROTO_TCP 6
#define TCPKIT_TCP_CLOSE 7
#define TCPKIT_RING_BYTES (16 * 1024 * 1024)
#define TCPKIT_MAX_SOCKETS 262144

// The namespace to follow (its inode number); 0 follows all. Set before load.
const volatile __u32 follow_netns = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, TCPKIT_RING_BYTES);
} events SEC(".maps");

// What a socket's last change left: its time, and the local port then (by the time the kernel
// reports CLOSE the port may be released, and reads 0). Keyed by the socket's address; gone at CLOSE.
struct last_seen {
  __u64 time_ns;
  __u16 sport;
  __u8 state;       // the state that change left it in: the next change must start there
  __u8 time_known;  // time_ns is when it entered that state (0: it was in it before we looked)
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, TCPKIT_MAX_SOCKETS);
  __type(key, __u64);
  __type(value, struct last_seen);
} last_change SEC(".maps");

// Events the ring buffer had no room for: read and reported by user space, never silent.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ring_drops SEC(".maps");

// Changes that did not start in the state the socket's last change left it in: the changes in
// between were never reported (the kernel skipped them, or they were lost as counted above); or
// the address belongs to a new socket while the old one's end was never reported. Never silent.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} path_gaps SEC(".maps");

static __always_inline void count_gap(void) {
  __u32 zero = 0;
  __u64* n = bpf_map_lookup_elem(&path_gaps, &zero);
  if (n) *n += 1;
}

static __always_inline void count_drop(void) {
  __u32 zero = 0;
  __u64* n = bpf_map_lookup_elem(&ring_drops, &zero);
  if (n) *n += 1;
}

// The kernel does not run a tp_btf program that is already running on the same CPU: a softirq
// that changes a socket's state while follow_btf runs in process context (on loopback, a few
// changes in 10,000) would be lost and only counted as a recursion miss. So follow_btf marks
// the CPU while it runs, and a second program on the same tracepoint, follow_btf_nested, takes
// exactly the changes that arrive while the mark is up; rescued counts them, so that the
// misses left over (the lost changes) are follow_btf's misses less these.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} running SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} rescued SEC(".maps");

// Everything read with BPF_CORE_READ (probe reads): the same code serves tp_btf, where sk is a
// trusted pointer, and the plain tracepoint, where it is only an address.
static __always_inline int on_change(const struct sock* sk, int oldstate, int newstate) {
  if (BPF_CORE_READ(sk, sk_protocol) != TCPKIT_IPPROTO_TCP) return 0;
  const __u32 netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  if (follow_netns && netns != follow_netns) return 0;

  const __u64 now = bpf_ktime_get_ns();
  const __u64 key = (__u64)sk;
  __u16 sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  // Released already (a refused connect's CLOSE): the port it had stays in inet_sport.
  if (sport == 0) sport = __builtin_bswap16(BPF_CORE_READ((const struct inet_sock*)sk, inet_sport));
  __u64 since = 0;
  int known = 0;
  const struct last_seen* last = bpf_map_lookup_elem(&last_change, &key);
  if (last && last->state != (__u8)oldstate) {
    count_gap();  // the time since that change is not this state's: unknown
  } else if (last) {
    known = last->time_known;
    since = known ? now - last->time_ns : 0;
    if (sport == 0) sport = last->sport;
  }
  if (newstate == TCPKIT_TCP_CLOSE) {
    bpf_map_delete_elem(&last_change, &key);
  } else {
    // A change to the same state (close() after shutdown(): FIN_WAIT1 or FIN_WAIT2 again) does
    // not leave it: the time in it still runs from when the socket entered it, and stays
    // unknown when that was before the follower looked (a connection older than it).
    const int same = oldstate == newstate;
    const __u64 entered = same && known ? now - since : now;
    const struct last_seen seen = {
        .time_ns = entered, .sport = sport, .state = (__u8)newstate, .time_known = (__u8)(same ? known : 1)};
    bpf_map_update_elem(&last_change, &key, &seen, BPF_ANY);
  }

  struct tcpkit_state_event* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop();
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->time_ns = now;
  e->in_old_state_ns = since;
  e->socket = key;
  e->netns = netns;
  e->old_known = (__u8)known;
  e->old_state = (__u8)oldstate;
  e->new_state = (__u8)newstate;
  e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  e->sport = sport;
  e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (e->family == TCPKIT_AF_INET) {
    BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_rcv_saddr);
    BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_daddr);
  } else if (e->family == TCPKIT_AF_INET6) {
    BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
  // How a connection ended (a CLOSE's error: refused, reset, timed out) and what it carried.
  e->error = (__u8)BPF_CORE_READ(sk, sk_err);
  const struct tcp_sock* tp = (const struct tcp_sock*)sk;
  e->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
  e->bytes_received = BPF_CORE_READ(tp, bytes_received);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

// First choice: CAP_BPF + CAP_PERFMON are enough, and no tracefs is needed.
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(follow_btf, const struct sock* sk, const int oldstate, const int newstate) {
  __u32 zero = 0;
  __u32* mark = bpf_map_lookup_elem(&running, &zero);
  if (mark) *mark = 1;
  on_change(sk, oldstate, newstate);
  if (mark) *mark = 0;
  return 0;
}

// Runs for every change too, but acts only on one that interrupted follow_btf on this CPU
// (which the kernel then skipped). Either order of the two programs works: before or after an
// uninterrupted follow_btf the mark is down.
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(follow_btf_nested, const struct sock* sk, const int oldstate, const int newstate) {
  __u32 zero = 0;
  __u32* mark = bpf_map_lookup_elem(&running, &zero);
  if (!mark || !*mark) return 0;
  __u64* n = bpf_map_lookup_elem(&rescued, &zero);
  if (n) *n += 1;
  return on_change(sk, oldstate, newstate);
}

// Fallback where tp_btf cannot attach: the tracepoint (tracefs must be mounted and readable).
// Its recursion guard is shared by every tracepoint and kprobe program of the CPU, so no second
// program could take the nested changes: its misses are losses, and reported as such.
SEC("tracepoint/sock/inet_sock_set_state")
int follow_tracepoint(struct trace_event_raw_inet_sock_set_state* ctx) {
  return on_change((const struct sock*)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

char LICENSE[] SEC("license") = "GPL";
