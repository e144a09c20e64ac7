// tcpprobe --trace: one connection, opened by the kernel and followed from capture.
#include "common/cli_common.hpp"
#include "tcpprobe/options.hpp"
#include "tcpprobe/targets.hpp"
#include "tcpprobe/trace_report.hpp"

namespace tcpprobe {

namespace cli = tcpkit::cli;

int run_trace(const Options& o) {
  constexpr const char* kTool = "tcpprobe";
  cli::install_interrupt_handler();
  if (!cli::has_cap_net_raw()) {
    cli::print_error(kTool, "--trace captures packets: " + cli::net_raw_hint(kTool));
    return cli::kExitPrivilege;
  }
  auto target = prepare_target(o, o.targets.front(), true);
  if (!target) {
    cli::print_error(kTool, target.error().message);
    return cli::exit_code_for(target.error());
  }
  tcpkit::TraceConfig config;
  config.destination = target->info.address;
  config.port = target->info.port;
  config.source = o.source;
  config.interface = target->interface;
  config.source_port = o.source_port;
  config.close = o.close;
  config.send_data = o.send_data;
  config.raw_seqs_in_notes = o.absolute;
  config.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout * 3);
  config.peer_close_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.close_wait);
  if (o.deadline) config.limit = std::chrono::duration_cast<std::chrono::milliseconds>(*o.deadline);
  auto trace = tcpkit::trace_connection(config, cli::interrupt_fd());
  if (!trace) {
    std::string message = trace.error().message;
    if (trace.error().code == tcpkit::ErrorCode::privilege) message += "; " + cli::net_raw_hint(kTool);
    cli::print_error(kTool, message);
    return cli::exit_code_for(trace.error());
  }
  // SYNs that drew nothing at all: one ACK tells a stack dropping only SYNs from a firewall.
  std::optional<tcpkit::AckCheckAnswer> ack;
  if (o.ack_check && trace->outcome == "no answer" && !cli::interrupted()) ack = ack_check_target(o, *target);
  print_trace(o, target->info, *trace, ack);
  // Positive: the handshake completed (the connection really existed).
  return trace->syn_to_synack_ns ? cli::kExitPositive : cli::kExitNegative;
}

}  // namespace tcpprobe
