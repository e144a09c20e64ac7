#pragma once
// The closed-port and listening-port cases: one crafted segment from a reserved source port
// that no socket of ours uses, and the answers the capture sees until the timeout.
#include <string>

#include "tcpkit/stray/stray_run.hpp"

namespace tcpkit {

// For a case of the closed or listen group. cancel_fd (Ctrl-C) ends the wait early.
Result<StrayRun> run_stateless_case(StrayCase id, const StrayTarget& target, RawSender& sender, int cancel_fd = -1);

// The same-port control of the listener's silences: FIN|ACK (random numbers) to the listening
// port. The listener resets it (it carries ACK), and conntrack finds it as invalid as a FIN, NULL
// or Xmas without a connection, so a firewall that guards this port alone drops it too. Run as
// listen-ack, whose answer it shares.
Result<StrayRun> run_listener_fin_ack(const StrayTarget& target, RawSender& sender, int cancel_fd = -1);

// Whether the target port accepts a kernel connect() within the timeout: the listen group is
// only meaningful against a listening port. Returns the reason when it does not. With `ttl`, the
// TTL (hop limit) of the listener's SYN/ACK goes there (0: not seen): the listener's own, even
// behind port forwarding, where conntrack translates a handshake but not a segment it finds
// invalid, which then meets the router's own stack.
Result<std::optional<std::string>> check_listening(const StrayTarget& target, int cancel_fd = -1,
                                                   uint8_t* ttl = nullptr);
// The other way round for the closed group: the reason when the closed port accepts connections
// (every "no reset came back" would then be wrong), nullopt when it does not.
Result<std::optional<std::string>> check_closed(const StrayTarget& target, int cancel_fd = -1);

// Why nothing can have reached the target at all: the neighbour entry (ARP, neighbour discovery)
// of the target, or of its gateway, never resolved (INCOMPLETE or FAILED). Empty when it did, or
// when the table says nothing either way. For a group of cases that drew no answer.
std::string unresolved_neighbour_note(const StrayTarget& target);

}  // namespace tcpkit
