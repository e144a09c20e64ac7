#include "tcpkit/sockets/tcp_state.hpp"

#include <cctype>

namespace tcpkit {

namespace {

struct Names {
  std::string_view canonical, ss, key;
};

constexpr std::array<Names, kTcpStateCount> kNames = {{
    {"ESTABLISHED", "ESTAB", "established"},
    {"SYN_SENT", "SYN-SENT", "syn_sent"},
    {"SYN_RECV", "SYN-RECV", "syn_recv"},
    {"FIN_WAIT1", "FIN-WAIT-1", "fin_wait1"},
    {"FIN_WAIT2", "FIN-WAIT-2", "fin_wait2"},
    {"TIME_WAIT", "TIME-WAIT", "time_wait"},
    {"CLOSE", "UNCONN", "close"},
    {"CLOSE_WAIT", "CLOSE-WAIT", "close_wait"},
    {"LAST_ACK", "LAST-ACK", "last_ack"},
    {"LISTEN", "LISTEN", "listen"},
    {"CLOSING", "CLOSING", "closing"},
}};

// Upper case, with '-', '_' and spaces removed: "time-wait" -> "TIMEWAIT".
std::string squash(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '-' || c == '_' || c == ' ') continue;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

struct Alias {
  std::string_view squashed;
  TcpState state;
};

constexpr Alias kAliases[] = {
    {"ESTABLISHED", TcpState::established}, {"ESTAB", TcpState::established},
    {"SYNSENT", TcpState::syn_sent},        {"SYNRECV", TcpState::syn_recv},
    {"SYNRECEIVED", TcpState::syn_recv},    {"NEWSYNRECV", TcpState::syn_recv},
    {"FINWAIT1", TcpState::fin_wait1},      {"FINWAIT2", TcpState::fin_wait2},
    {"TIMEWAIT", TcpState::time_wait},      {"CLOSE", TcpState::close},
    {"CLOSED", TcpState::close},            {"UNCONN", TcpState::close},
    {"CLOSEWAIT", TcpState::close_wait},    {"LASTACK", TcpState::last_ack},
    {"LISTEN", TcpState::listen},           {"LISTENING", TcpState::listen},
    {"CLOSING", TcpState::closing},
};

constexpr std::array<StateExplanation, kTcpStateCount> kExplanations = {{
    {"the connection is open: data flows both ways",
     "the three-way handshake completed (SYN, SYN-ACK, ACK) on either side",
     "a FIN: sending one leads to FIN_WAIT1, receiving one to CLOSE_WAIT; an RST or a timeout "
     "closes it at once",
     "many live connections: normal for busy servers and connection pools; compare with the "
     "expected pool sizes, and look for idle ones with keepalive timers"},
    {"an active open: our SYN is sent, no SYN-ACK has come back yet",
     "connect() sent a SYN",
     "a SYN-ACK (to ESTABLISHED), an RST or ICMP error (closed), or the end of the SYN retries "
     "(tcp_syn_retries, about 2 minutes by default)",
     "the peers do not answer: a firewall dropping SYNs, a host down, or a route black hole; "
     "a burst of them from one process may also be a scan"},
    {"a passive open: a SYN arrived and our SYN-ACK is sent; waiting for the final ACK",
     "a listening socket received a SYN (Linux keeps it as a small request socket)",
     "the client's ACK (to ESTABLISHED, queued for accept()), an RST, or the end of the SYN-ACK "
     "retries (tcp_synack_retries, about a minute)",
     "clients that never finish the handshake: a SYN flood (often from spoofed, widely spread "
     "sources), or lossy or asymmetric paths; see the syn-flood report"},
    {"we closed first: our FIN is sent, not yet acknowledged",
     "the application called close() or shutdown(SHUT_WR) on an open connection",
     "the ACK of our FIN (to FIN_WAIT2), or the peer's FIN as well (to CLOSING or TIME_WAIT)",
     "the peer does not acknowledge: it is gone or unreachable, or our send queue holds "
     "unsent data that the peer's zero window blocks"},
    {"we closed first and the peer acknowledged; waiting for the peer's FIN",
     "the ACK of our FIN arrived in FIN_WAIT1",
     "the peer's FIN (to TIME_WAIT); an orphaned socket (no process holds it) is dropped after "
     "tcp_fin_timeout (60 s by default)",
     "peers that keep their side open after we closed: half-closed protocols, or peer "
     "applications that never close (they show CLOSE_WAIT on their side)"},
    {"we closed first and both FINs are done: waiting for old segments to die out",
     "the peer's FIN arrived in FIN_WAIT2 (or CLOSING ended): the active closer gets this state",
     "a fixed 60 s timer (TCP_TIMEWAIT_LEN, not tunable; tcp_fin_timeout does not change it), "
     "or reuse by a new connect() when tcp_tw_reuse allows it",
     "many short connections closed by this side: each peer address and port can use at most "
     "the ephemeral port range per minute; use keep-alive or pooling, let the server close, or "
     "enable tcp_tw_reuse for outgoing connections; see the time-wait report"},
    {"no connection: the socket is unused, or just torn down",
     "a fresh socket before listen() or connect(), or a connection that finished closing",
     "listen() (to LISTEN) or connect() (to SYN_SENT), or the application closes it",
     "sockets created but never used, or a bind() without listen(): usually harmless, sometimes "
     "a leak of file descriptors"},
    {"the peer closed; our application has not closed its side yet",
     "the peer's FIN arrived on an established connection",
     "the application calls close() (our FIN is sent: to LAST_ACK); the kernel never leaves this "
     "state by itself",
     "an application that does not close() sockets its peers closed: a descriptor leak; the "
     "count grows over time; see the close-wait report for the process and port"},
    {"the peer closed, then we closed: our FIN is sent, waiting for its ACK",
     "the application closed a socket in CLOSE_WAIT",
     "the ACK of our FIN (to CLOSE), or the retries run out",
     "peers that vanish before acknowledging our FIN: lossy paths or peers that reset state"},
    {"a server socket waiting for connections",
     "the application called listen()",
     "the application closes it",
     "many listeners are normal for servers; watch their queues instead: Recv-Q is the accept "
     "queue and Send-Q its limit (the backlog)"},
    {"both sides closed at the same time: FINs crossed",
     "the peer's FIN arrived in FIN_WAIT1, before the ACK of our FIN",
     "the ACK of our FIN (to TIME_WAIT)",
     "rare; many of them point to peers that lose the final ACKs, or to simultaneous closes "
     "by design"},
}};

}  // namespace

std::optional<TcpState> state_from_kernel(int number) {
  constexpr int kTcpNewSynRecv = 12;  // TCP_NEW_SYN_RECV: a request socket, shown as SYN_RECV like ss
  if (number == kTcpNewSynRecv) return TcpState::syn_recv;
  if (number < 1 || number > kTcpStateCount) return std::nullopt;
  return static_cast<TcpState>(number);
}

std::string_view state_name(TcpState s) { return kNames[state_index(s)].canonical; }
std::string_view state_ss_name(TcpState s) { return kNames[state_index(s)].ss; }
std::string_view state_key(TcpState s) { return kNames[state_index(s)].key; }

// Twice the longest name ("SYN-RECEIVED"): room for odd separators; longer text is refused
// before it is copied.
constexpr size_t kMaxStateText = 24;

std::optional<TcpState> parse_tcp_state(std::string_view text) {
  if (text.empty() || text.size() > kMaxStateText) return std::nullopt;
  const std::string s = squash(text);
  for (const auto& alias : kAliases)
    if (alias.squashed == s) return alias.state;
  return std::nullopt;
}

std::optional<StateSet> parse_state_or_group(std::string_view text) {
  if (auto s = parse_tcp_state(text)) return StateSet::of(*s);
  const std::string g = squash(text);
  StateSet set;
  if (g == "ALL") return StateSet::all();
  if (g == "CONNECTED" || g == "SYNCHRONIZED" || g == "BIG") {
    for (TcpState s : kAllTcpStates) {
      if (s == TcpState::listen || s == TcpState::close) {
        if (g == "BIG") set.add(s);
        continue;
      }
      if (g == "SYNCHRONIZED" && s == TcpState::syn_sent) continue;
      if (g == "BIG" && (s == TcpState::syn_recv || s == TcpState::time_wait)) continue;
      set.add(s);
    }
    return set;
  }
  if (g == "BUCKET") {
    set.add(TcpState::syn_recv);
    set.add(TcpState::time_wait);
    return set;
  }
  return std::nullopt;
}

const StateExplanation& explain_state(TcpState s) { return kExplanations[state_index(s)]; }

}  // namespace tcpkit
