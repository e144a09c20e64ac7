#pragma once
// The eleven TCP states (RFC 9293 plus Linux's CLOSE), their names in every spelling the
// tools meet (ss, netstat, /proc, the kernel's numbers), groups of states, and explanations.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcpkit {

// Values are the kernel's numbers (include/net/tcp_states.h).
enum class TcpState : uint8_t {
  established = 1,
  syn_sent = 2,
  syn_recv = 3,
  fin_wait1 = 4,
  fin_wait2 = 5,
  time_wait = 6,
  close = 7,  // CLOSED; ss says UNCONN
  close_wait = 8,
  last_ack = 9,
  listen = 10,
  closing = 11,
};

inline constexpr int kTcpStateCount = 11;

// All eleven in the kernel's order, for loops and tables.
inline constexpr std::array<TcpState, kTcpStateCount> kAllTcpStates = {
    TcpState::established, TcpState::syn_sent,   TcpState::syn_recv, TcpState::fin_wait1,
    TcpState::fin_wait2,   TcpState::time_wait,  TcpState::close,    TcpState::close_wait,
    TcpState::last_ack,    TcpState::listen,     TcpState::closing};

// 0..10, for arrays indexed by state.
inline constexpr int state_index(TcpState s) { return static_cast<int>(s) - 1; }

// The kernel's number; 12 (TCP_NEW_SYN_RECV, request sockets) maps to syn_recv.
std::optional<TcpState> state_from_kernel(int number);
inline constexpr int kernel_number(TcpState s) { return static_cast<int>(s); }

// Canonical name: "ESTABLISHED", "SYN_SENT", "FIN_WAIT1", "TIME_WAIT", "CLOSE", ... (netstat's).
std::string_view state_name(TcpState s);
// ss's spelling: "ESTAB", "SYN-SENT", "FIN-WAIT-1", "TIME-WAIT", "UNCONN", ...
std::string_view state_ss_name(TcpState s);
// Lower-case identifier for metrics and keys: "established", "syn_sent", "time_wait", ...
std::string_view state_key(TcpState s);

// Any spelling, case-insensitive, '-' and '_' alike: ESTAB, ESTABLISHED, TIME-WAIT, TIME_WAIT,
// timewait, SYN-RECV, SYN_RECV, FIN-WAIT-1, FIN_WAIT1, UNCONN, CLOSED, CLOSE, ...
// Numbers are not names: use state_from_kernel for those. Returns nullopt for anything else.
std::optional<TcpState> parse_tcp_state(std::string_view text);

// A set of states, one bit per state (bit = kernel number), like the kernel's idiag_states.
class StateSet {
 public:
  constexpr StateSet() = default;
  static constexpr StateSet all() { return StateSet(0xFFEu); }
  static constexpr StateSet of(TcpState s) { return StateSet(1u << static_cast<int>(s)); }
  constexpr bool contains(TcpState s) const { return bits_ & (1u << static_cast<int>(s)); }
  constexpr void add(TcpState s) { bits_ |= 1u << static_cast<int>(s); }
  constexpr void add(StateSet o) { bits_ |= o.bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool is_all() const { return bits_ == 0xFFEu; }
  // The kernel's mask (TCP_NEW_SYN_RECV added when SYN_RECV is in: request sockets).
  constexpr uint32_t kernel_mask() const { return bits_ | ((bits_ & (1u << 3)) ? (1u << 12) : 0); }
  constexpr uint32_t bits() const { return bits_; }
  constexpr bool operator==(const StateSet&) const = default;

 private:
  explicit constexpr StateSet(uint32_t bits) : bits_(bits) {}
  uint32_t bits_ = 0;
};

// A state name or one of ss's groups: all, connected (not LISTEN or CLOSE), synchronized
// (connected but not SYN_SENT), bucket (SYN_RECV, TIME_WAIT: minisockets), big (not bucket).
std::optional<StateSet> parse_state_or_group(std::string_view text);

// What --explain prints.
struct StateExplanation {
  std::string_view summary;   // one line
  std::string_view enter;     // how a socket gets here
  std::string_view leave;     // what makes it leave
  std::string_view many;      // what a large count usually means
};
const StateExplanation& explain_state(TcpState s);

}  // namespace tcpkit
