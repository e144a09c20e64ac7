#pragma once
// nmap's XML output (-oX FILE, --xml to stdout), valid against nmap.dtd (nmap-common), so that
// tools built on nmap (xsltproc with nmap.xsl, Metasploit's db_import, DefectDojo, Faraday)
// read tcpscan's results. Hosts are written as they complete; runstats at the end.
#include <cstdio>
#include <string>

#include "tcpkit/wire/service_names.hpp"
#include "tcpscan/host_table.hpp"
#include "tcpscan/host_text.hpp"

namespace tcpscan {

struct XmlRun {
  std::string args;      // the command line as given
  std::string scan_type; // nmap's: syn, ack, fin, null, xmas
  std::string scan_flags;  // set when the flags are not one of nmap's scan types
  uint64_t port_count = 0;
  std::string services;  // "22-26"
};

class XmlReport {
 public:
  explicit XmlReport(std::FILE* out) : out_(out) {}
  void begin(const XmlRun& run);
  void host(const Host& h, const HostTextOptions& o, tcpkit::ServiceNames& services);
  void end(uint64_t up, uint64_t down, uint64_t total, double elapsed_s, bool interrupted);
  // errno of the first write that failed (a full disk), 0 if none did.
  int write_errno() const { return write_errno_; }

 private:
  void flush();
  std::FILE* out_;
  long start_ = 0;
  int write_errno_ = 0;
};

// Escapes text for an XML attribute.
std::string xml_escape(const std::string& text);

}  // namespace tcpscan
