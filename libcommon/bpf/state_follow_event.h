// One TCP state change as the BPF program hands it to user space (state_follow.bpf.c writes
// it, src/sockets/state_follow.cpp reads it): plain fixed-size fields, the same layout on both sides.
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct tcpkit_state_event {
  __u64 time_ns;          // bpf_ktime_get_ns(): CLOCK_MONOTONIC
  __u64 in_old_state_ns;  // time since this socket's previous change (0 when old_known is 0)
  __u64 socket;           // the kernel's socket address: one connection's identity for its life
  __u32 netns;            // inode of the socket's network namespace
  __u16 family;           // AF_INET or AF_INET6
  __u16 sport;            // host order
  __u16 dport;            // host order
  __u8 old_state;         // the kernel's TCP state numbers
  __u8 new_state;
  __u8 old_known;         // 1: the previous change was seen, in_old_state_ns is valid
  __u8 error;             // sk_err at the change: ECONNREFUSED, ECONNRESET, ETIMEDOUT... (0: none)
  __u8 pad[6];
  __u8 saddr[16];         // network order; the first 4 bytes for IPv4
  __u8 daddr[16];
  __u64 bytes_acked;      // tcp_sock's bytes_acked and bytes_received (RFC 4898) at the change
  __u64 bytes_received;
};
