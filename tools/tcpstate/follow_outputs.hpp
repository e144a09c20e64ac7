#pragma once
// tcpstate follow's outputs beside the one line per change: --life (a line per finished
// connection), --summary (counts per edge, text, JSON or Prometheus) and --diagram (the state
// diagram drawn by Graphviz from those counts).
#include <map>
#include <string>

#include "follow_format.hpp"
#include "options.hpp"
#include "tcpkit/sockets/connection_life.hpp"
#include "tcpkit/sockets/state_edges.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpstate {

// follow_life.cpp: one connection's life, text or a JSON line (flushed with its batch).
void print_life(const tcpkit::ConnectionLife& life, const WallClock& clock, bool json);

// follow_edges.cpp: the counts per edge (and, with --life, per way a connection ended).
class EdgeReport {
 public:
  void add(const tcpkit::StateChange& c) { edges_.add(c.old_state, c.new_state, c.in_old_state_ns); }
  void add_life(const tcpkit::ConnectionLife& life) { ++ended_[life.end]; }
  // A child thrown away for its twin (tcpkit::TwinChildren): its SYN_RECV -> CLOSE is no edge.
  void add_twin() { ++twins_; }
  const tcpkit::EdgeCounter& edges() const { return edges_; }
  // The counts so far (and since the last print), in o's format; losses go into Prometheus's.
  void print(const Options& o, const WallClock& clock, double seconds, const tcpkit::FollowLosses& losses);

 private:
  tcpkit::EdgeCounter edges_;
  std::map<tcpkit::LifeEnd, uint64_t> ended_;
  uint64_t twins_ = 0;
  std::map<std::pair<tcpkit::TcpState, tcpkit::TcpState>, uint64_t> printed_;  // counts at the last print
};

// --diagram: Graphviz's dot, found before following (a run must not end unable to draw);
// returns its path or an error naming the package. The file is tried for writing then too.
tcpkit::Result<std::string> prepare_diagram(const std::string& path);
tcpkit::Result<void> write_diagram(const std::string& dot, const std::string& path, const tcpkit::EdgeCounter& edges,
                                   const std::string& title);

}  // namespace tcpstate
