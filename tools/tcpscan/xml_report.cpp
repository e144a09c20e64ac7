#include "tcpscan/xml_report.hpp"

#include <cerrno>
#include <ctime>
#include <map>

#include "tcpkit/wire/port_list.hpp"
#include "tcpkit/util/output.hpp"

namespace tcpscan {

void XmlReport::flush() {
  errno = 0;
  if (std::fflush(out_) != 0 && !write_errno_) write_errno_ = errno;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\t') out += "&#" + std::to_string(int(c)) + ";";  // not allowed raw
        else out += char(c);
    }
  }
  return out;
}

namespace {
std::string time_text(long t) {
  char buf[64];
  const time_t tt = t;
  std::tm tm{};
  localtime_r(&tt, &tm);
  const size_t n = std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return std::string(buf, n);  // 0 (nothing) only if the text did not fit
}

const char* status_word(HostStatus s) {
  switch (s) {
    case HostStatus::up: return "up";
    case HostStatus::down: return "down";
    case HostStatus::unknown: return "unknown";
  }
  return "unknown";
}
}  // namespace

void XmlReport::begin(const XmlRun& run) {
  start_ = long(std::time(nullptr));
  const std::string when = time_text(start_);
  std::fprintf(out_,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n"
               "<?xml-stylesheet href=\"file:///usr/share/nmap/nmap.xsl\" type=\"text/xsl\"?>\n"
               // Not the command line, as nmap writes: an XML comment cannot hold "--". It is in args.
               "<!-- tcpscan 0.1.0 scan initiated %s -->\n"
               "<nmaprun scanner=\"nmap\" args=\"%s\" start=\"%ld\" startstr=\"%s\" version=\"tcpscan 0.1.0\" "
               "xmloutputversion=\"1.05\">\n"
               "<scaninfo type=\"%s\"%s protocol=\"tcp\" numservices=\"%llu\" services=\"%s\"/>\n"
               "<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n",
               when.c_str(), xml_escape(run.args).c_str(), start_, when.c_str(),
               run.scan_type.c_str(),
               run.scan_flags.empty() ? "" : (" scanflags=\"" + xml_escape(run.scan_flags) + "\"").c_str(),
               (unsigned long long)run.port_count, run.services.c_str());
  flush();
}

void XmlReport::host(const Host& h, const HostTextOptions& o, tcpkit::ServiceNames& services) {
  const long now = long(std::time(nullptr));
  const bool v6 = h.address.is_v6();
  const unsigned first_ttl = h.replies > 0 ? h.first.ttl : 0;  // of the answer the status rests on
  std::string x = "<host starttime=\"" + std::to_string(start_) + "\" endtime=\"" + std::to_string(now) +
                  "\"><status state=\"" + status_word(h.status) + "\" reason=\"" + xml_escape(h.reason) +
                  "\" reason_ttl=\"" + std::to_string(first_ttl) + "\"/>\n<address addr=\"" + h.address.to_string() +
                  "\" addrtype=\"" + (v6 ? "ipv6" : "ipv4") + "\"/>\n<hostnames>\n</hostnames>\n";
  if (h.status != HostStatus::down) {
    // The collapsed state becomes nmap's extraports, with its reasons and port ranges.
    const int hidden = collapsed_state(h, o);
    std::map<std::string, std::vector<uint16_t>> hidden_ports;
    std::string listed;
    for (const auto& p : h.ports) {
      const auto v = p.verdict();
      if (int(p.state) == hidden) {
        hidden_ports[reason_word(v)].push_back(p.port);
        continue;
      }
      if (o.open_only && v.state != o.positive) continue;  // --open: nmap lists no other port either
      listed += "<port protocol=\"tcp\" portid=\"" + std::to_string(p.port) + "\"><state state=\"" +
                tcpkit::to_string(v.state) + "\" reason=\"" + reason_word(v) + "\" reason_ttl=\"" +
                std::to_string(v.reason == tcpkit::Reason::no_response ? 0 : p.ttl) + "\"";
      if (const auto router = h.reason_ip(p)) listed += " reason_ip=\"" + router->to_string() + "\"";
      listed += "/>";
      const std::string& name = services.name(p.port);
      if (!name.empty()) listed += "<service name=\"" + xml_escape(name) + "\" method=\"table\" conf=\"3\"/>";
      listed += "</port>\n";
    }
    x += "<ports>";
    if (hidden >= 0) {
      x += "<extraports state=\"" + std::string(tcpkit::to_string(tcpkit::PortState(hidden))) + "\" count=\"" +
           std::to_string(h.states[size_t(hidden)]) + "\">\n";
      for (const auto& [word, ports] : hidden_ports)
        x += "<extrareasons reason=\"" + word + "\" count=\"" + std::to_string(ports.size()) +
             "\" proto=\"tcp\" ports=\"" + tcpkit::compress_ports(ports) + "\"/>\n";
      x += "</extraports>\n";
    }
    x += listed + "</ports>\n";
  }
  if (h.first_rtt_ns > 0) {
    const auto us = std::to_string(h.first_rtt_ns / 1000);
    x += "<times srtt=\"" + us + "\" rttvar=\"" + us + "\" to=\"100000\"/>\n";
  }
  x += "</host>\n";
  std::fputs(x.c_str(), out_);
  flush();
}

void XmlReport::end(uint64_t up, uint64_t down, uint64_t total, double elapsed_s, bool interrupted) {
  const long now = long(std::time(nullptr));
  const std::string elapsed = tcpkit::format_fixed(elapsed_s, 2);
  const std::string summary = "tcpscan done at " + time_text(now) + "; " + with_commas(total) + (total == 1 ? " IP address (" : " IP addresses (") +
                              count_of(up, "host") + " up) scanned in " + elapsed + " seconds";
  std::fprintf(out_,
               "<runstats><finished time=\"%ld\" timestr=\"%s\" summary=\"%s\" elapsed=\"%s\" exit=\"%s\"%s/>"
               "<hosts up=\"%llu\" down=\"%llu\" total=\"%llu\"/>\n</runstats>\n</nmaprun>\n",
               now, time_text(now).c_str(), xml_escape(summary).c_str(), elapsed.c_str(), interrupted ? "error" : "success",
               interrupted ? " errormsg=\"interrupted\"" : "", (unsigned long long)up, (unsigned long long)down,
               (unsigned long long)total);
  flush();
}

}  // namespace tcpscan
