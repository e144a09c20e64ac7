#pragma once
// tcpstate's views. Each collects from the chosen source, prints in the chosen format and
// returns the exit code; --check results are added by finish_view().
#include <string>
#include <vector>

#include "options.hpp"
#include "prometheus.hpp"
#include "source.hpp"
#include "tcpkit/util/error.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/sockets/socket_stats.hpp"

namespace tcpstate {

int run_list(const Options& o);
int run_summary(const Options& o);  // --summary, --by
int run_time_wait(const Options& o);
int run_syn_flood(const Options& o);
int run_close_wait(const Options& o);
int run_watch(const Options& o);
int run_follow(const Options& o);  // follow: live state changes (eBPF)
int run_explain(const Options& o);

// --- helpers shared by the views ---

// Prints "tcpstate: message" and returns the exit code the error calls for.
int fail_with(const tcpkit::Error& error);
void write_stdout(const std::string& text);
// One JSON line on stdout.
void write_json(const tcpkit::Record& record);

// {"ESTABLISHED": n, ...} with every state, and the per-family totals.
tcpkit::Record states_record(const tcpkit::StateCounts& counts);
// tcpstate_sockets{state,family} gauges.
void add_state_metrics(PrometheusText& prom, const tcpkit::StateCounts& counts);

// The states a view must read in full for --max checks (all of them for total=N).
tcpkit::StateSet threshold_states(const Options& o);

// After a view printed its result: the --check lines (in the view's format), the final JSON
// summary object (`summary` gets "type":"summary", the check outcome and, for saved text, the
// malformed lines skipped; so does the Prometheus text), and the exit code: 1 when a threshold
// is exceeded or extra_failure is set, else 0.
int finish_view(const Options& o, const SourceInfo& source, const tcpkit::StateCounts& counts, tcpkit::Record summary,
                PrometheusText* prom, const std::string& extra_failure = "");

}  // namespace tcpstate
