#pragma once
// Stateless reply validation for scanners: a keyed hash (SipHash-2-4) of the probe's 4-tuple
// becomes its sequence number, so a reply proves it answers one of our probes without any
// per-probe state. A fresh random key per scan keeps blind forgers from guessing it.
#include <cstddef>
#include <cstdint>

#include "tcpkit/wire/ip_address.hpp"

namespace tcpkit {

struct SipKey {
  uint64_t k0 = 0, k1 = 0;
};

// SipHash-2-4 (Aumasson & Bernstein, 2012) of len bytes.
uint64_t siphash24(const SipKey& key, const uint8_t* data, size_t len);

// 128 bits from the kernel's random source (getrandom); falls back to the clock only if the
// kernel refuses, which it does not on any supported Linux.
SipKey random_sip_key();

class ScanCookie {
 public:
  explicit ScanCookie(const SipKey& key) : key_(key) {}
  // 64 bits bound to (our address, our port, their address, their port). The scanner uses the
  // low half as the ISN and the high half as the ACK field of probes that carry one.
  uint64_t of(const IpAddress& local, uint16_t local_port, const IpAddress& remote, uint16_t remote_port) const;
  static uint32_t seq_part(uint64_t cookie) { return uint32_t(cookie); }
  static uint32_t ack_part(uint64_t cookie) { return uint32_t(cookie >> 32); }

 private:
  SipKey key_;
};

}  // namespace tcpkit
