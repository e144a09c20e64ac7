#pragma once
// tcpscan's options after parsing: main.cpp fills them, run() uses them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tcpkit/wire/ip_address.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/scan/permutation.hpp"
#include "tcpkit/scan/send_path.hpp"

namespace tcpscan {

enum class OutputForm { text, json, csv, grepable, xml };

struct Options {
  std::vector<std::string> targets;        // as written on the command line
  std::vector<std::string> target_files;   // -iL (may be "-")
  std::vector<std::string> excludes;       // --exclude items (already split at commas)
  std::vector<std::string> exclude_files;  // --exclude-file
  std::string ports;                       // empty: the default set
  tcpkit::Family family = tcpkit::Family::any;
  bool allow_broadcast = false;

  uint8_t flags = 0x02;  // SYN
  double rate = 10'000;
  double min_rate = 10'000.0 / 16;  // floor of the slow-down after drops
  int retries = 10;            // --max-retries, or with fixed_rounds --retries
  bool fixed_rounds = false;
  std::chrono::microseconds wait{1'000'000};  // --wait when wait_forced
  bool wait_forced = false;
  std::optional<uint64_t> seed;
  tcpkit::Shard shard;
  std::optional<uint16_t> source_port;
  std::optional<tcpkit::IpAddress> source;
  std::string interface;
  bool interface_from_zone = false;  // a target's zone (fe80::1%eth0) named it, not -I
  tcpkit::SendMode send_mode = tcpkit::SendMode::automatic;  // --send-eth / --send-ip
  bool qdisc_bypass = false;                                  // --qdisc-bypass
  size_t send_threads = 0;                                    // --send-threads; 0: default_send_threads
  // SYN scans: the ports that drew nothing get one ACK each when there are at most this many
  // (scan_ack_check.hpp); 0: never (--no-ack-check).
  uint64_t ack_check_max = 64;

  OutputForm form = OutputForm::text;
  bool open_only = false;
  bool reason = false;
  bool stream = false;     // text: one line per port as it is found, instead of per host
  bool all = false;        // text and XML: list every port, none collapsed
  bool assume_up = false;  // -Pn: never report a host as down
  std::string xml_file;    // -oX FILE ("-": standard output, as --xml)
  std::string command_line;  // for the XML's args
  bool dry_run = false;
};

int run(const Options& options);

}  // namespace tcpscan
