/* One record of the listener-queue iterator, as the BPF program writes it and
 * sockets/listen_queues.cpp reads it. Host byte order: reader and kernel are one machine. */
#ifndef TCPKIT_LISTEN_QUEUE_RECORD_H
#define TCPKIT_LISTEN_QUEUE_RECORD_H

#ifndef __bpf__
#include <linux/types.h> /* the BPF program has these types from vmlinux.h */
#endif

#define TCPKIT_LQ_LISTENER 0x4c51304cu /* a listening socket */
#define TCPKIT_LQ_END 0x4c51454eu      /* the listening hash is over */
/* The end record is padded to this size, so that it alone fills a read() of this size: the
 * kernel then returns before it walks the established hash (see listen_queues.bpf.c). */
#define TCPKIT_LQ_END_BYTES 4096

struct tcpkit_listen_queue_record {
  __u32 kind;             /* TCPKIT_LQ_LISTENER or TCPKIT_LQ_END */
  __u16 family;           /* AF_INET or AF_INET6 */
  __u16 port;             /* local port, host order */
  __u8 address[16];       /* local address: 4 bytes for AF_INET, then zeros */
  __u32 request_sockets;  /* the listener's SYN_RECV count (request sockets in its queue) */
  __u32 accept_queue;     /* established, waiting for accept() */
  __u32 backlog;          /* listen()'s backlog, as the kernel caps it */
  __u32 bound_interface;  /* SO_BINDTODEVICE index, 0 when none */
};

#endif
