// Prints what the installed library makes of a port list: proof that the headers compile
// outside the source tree and the library links and loads.
#include <cstdio>

#include <tcpkit/wire/port_list.hpp>

int main(int argc, char** argv) {
  auto ports = tcpkit::parse_port_list(argc > 1 ? argv[1] : "ssh,80,8000-8002");
  if (!ports) {
    std::fprintf(stderr, "consumer: %s\n", ports.error().message.c_str());
    return 2;
  }
  std::printf("%s\n", tcpkit::compress_ports(*ports).c_str());
  return 0;
}
