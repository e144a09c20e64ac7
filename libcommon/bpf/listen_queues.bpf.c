// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The request-socket count of every listener, without walking the established hash.
 *
 * sock_diag and /proc/net/tcp can count a listener's SYN_RECV sockets only by walking the
 * host's whole established hash (every namespace's sockets): ~38 ms at 140k sockets, and ss
 * walks it once per family. The listener itself keeps that count (icsk_accept_queue.qlen).
 * This iterator over TCP sockets sees the listening hash first: it writes one record per
 * listener, and at the first other socket an end record big enough to end the read(); the
 * reader then closes the iterator, and the established hash is never walked. Only the
 * reader's network namespace is iterated (the iterator is created there). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "tcpkit/sockets/listen_queue_record.h"

/* The kernel lets only GPL-compatible programs call bpf_seq_write. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_LISTEN_STATE 10
#define FAMILY_INET 2
#define FAMILY_INET6 10

static const struct {
  __u32 kind;
  __u8 padding[TCPKIT_LQ_END_BYTES - 4];
} end_record = {TCPKIT_LQ_END};

SEC("iter/tcp")
int listen_queues(struct bpf_iter__tcp *ctx)
{
  struct sock_common *skc = ctx->sk_common;
  if (!skc)
    return 0;
  if (skc->skc_state != TCP_LISTEN_STATE) {
    bpf_seq_write(ctx->meta->seq, &end_record, sizeof end_record);
    return 0;
  }
  struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
  if (!tp)
    return 0;
  struct tcpkit_listen_queue_record r = {};
  r.kind = TCPKIT_LQ_LISTENER;
  r.family = skc->skc_family;
  r.port = skc->skc_num;
  if (r.family == FAMILY_INET)
    __builtin_memcpy(r.address, &skc->skc_rcv_saddr, 4);
  else if (r.family == FAMILY_INET6)
    BPF_CORE_READ_INTO(&r.address, skc, skc_v6_rcv_saddr);
  r.request_sockets = tp->inet_conn.icsk_accept_queue.qlen.counter;
  r.accept_queue = tp->inet_conn.icsk_inet.sk.sk_ack_backlog;
  r.backlog = tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog;
  r.bound_interface = skc->skc_bound_dev_if;
  bpf_seq_write(ctx->meta->seq, &r, sizeof r);
  return 0;
}
