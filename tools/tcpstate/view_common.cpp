#include "common/cli_common.hpp"
#include "views.hpp"

#include <cstdio>

namespace tcpstate {

using namespace tcpkit;

int fail_with(const Error& error) {
  cli::print_error("tcpstate", error.message);
  return cli::exit_code_for(error);
}

void write_stdout(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void write_json(const Record& record) { JsonLinesWriter(stdout).write(record); }

Record states_record(const StateCounts& counts) {
  Record states;
  for (TcpState s : kAllTcpStates) states[std::string(state_name(s))] = counts.get(s);
  return states;
}

void add_state_metrics(PrometheusText& prom, const StateCounts& counts) {
  prom.describe("tcpstate_sockets", "TCP sockets by state and address family.");
  for (TcpState s : kAllTcpStates) {
    prom.sample("tcpstate_sockets", {{"state", std::string(state_key(s))}, {"family", "ipv4"}},
                static_cast<double>(counts.v4[state_index(s)]));
    prom.sample("tcpstate_sockets", {{"state", std::string(state_key(s))}, {"family", "ipv6"}},
                static_cast<double>(counts.v6[state_index(s)]));
    if (counts.unknown_total())  // saved text with host names at both ends
      prom.sample("tcpstate_sockets", {{"state", std::string(state_key(s))}, {"family", "unknown"}},
                  static_cast<double>(counts.unknown[state_index(s)]));
  }
}

StateSet threshold_states(const Options& o) {
  StateSet out;
  for (const auto& t : o.thresholds) {
    if (!t.state) return StateSet::all();
    out.add(*t.state);
  }
  return out;
}

namespace {

Record check_record(const CheckResult& r) {
  Record c;
  c["type"] = "check";
  c["name"] = r.threshold.label();
  c["value"] = r.value;
  c["max"] = r.threshold.max;
  c["exceeded"] = r.exceeded;
  return c;
}

void add_check_metrics(PrometheusText& prom, const std::vector<CheckResult>& results, bool failed) {
  prom.describe("tcpstate_check_value", "The value a --max threshold was checked against.");
  prom.describe("tcpstate_check_max", "The --max threshold.");
  prom.describe("tcpstate_check_exceeded", "1 when the value is above the threshold.");
  for (const auto& r : results) {
    prom.sample("tcpstate_check_value", {{"name", r.threshold.label()}}, static_cast<double>(r.value));
    prom.sample("tcpstate_check_max", {{"name", r.threshold.label()}}, static_cast<double>(r.threshold.max));
    prom.sample("tcpstate_check_exceeded", {{"name", r.threshold.label()}}, r.exceeded ? 1 : 0);
  }
  prom.describe("tcpstate_check_failed", "1 when the check failed.");
  prom.sample("tcpstate_check_failed", {}, failed ? 1 : 0);
}

// --check's results in the chosen output.
void write_checks(const Options& o, const std::vector<CheckResult>& results, bool cut, bool failed,
                  const std::string& extra_failure, PrometheusText* prom) {
  switch (o.output) {
    case Output::table: {
      TextTable t({"CHECK", "VALUE", "MAX", "RESULT"});
      for (const auto& r : results)
        t.add_row({r.threshold.label(), std::to_string(r.value), std::to_string(r.threshold.max),
                   r.exceeded ? "EXCEEDED" : "ok"});
      std::string out = results.empty() ? "" : "\n" + t.render();
      if (!extra_failure.empty()) out += "check failed: " + extra_failure + "\n";
      out += cut ? "CHECK NOT DONE (interrupted)\n" : failed ? "CHECK FAILED\n" : "CHECK OK\n";
      write_stdout(out);
      break;
    }
    case Output::json:
      for (const auto& r : results) write_json(check_record(r));
      break;
    case Output::csv: {
      CsvWriter w(stdout, {"type", "name", "value", "max", "exceeded"});
      w.write_header();
      for (const auto& r : results) w.write(check_record(r));
      break;
    }
    case Output::prometheus:
      if (prom) add_check_metrics(*prom, results, failed);
      break;
  }
}

}  // namespace

int finish_view(const Options& o, const SourceInfo& source, const StateCounts& counts, Record summary,
                PrometheusText* prom, const std::string& extra_failure) {
  const auto results = evaluate_thresholds(o.thresholds, counts);
  std::vector<std::string> exceeded;
  for (const auto& r : results)
    if (r.exceeded) exceeded.push_back(r.threshold.label());
  // Counts cut short by a signal prove nothing: an interrupted check is not a pass.
  const bool cut = o.check && cli::interrupted();
  const bool failed = o.check && (cut || !exceeded.empty() || !extra_failure.empty());
  if (o.check) {
    write_checks(o, results, cut, failed, extra_failure, prom);
    for (const auto& name : exceeded)
      cli::print_error("tcpstate", "check failed: " + name + " above its --max");
    if (!extra_failure.empty()) cli::print_error("tcpstate", "check failed: " + extra_failure);
  }
  // Saved text only: a script must see input that was mostly unreadable, 0 included.
  const bool text = !source.live;
  if (o.output == Output::prometheus && prom) {
    if (text) {
      prom->describe("tcpstate_input_malformed_lines", "Lines of the saved text (--from) that could not be read and were skipped.");
      prom->sample("tcpstate_input_malformed_lines", {}, static_cast<double>(source.malformed));
    }
    write_stdout(prom->text());
  }
  if (o.output == Output::json) {
    Record s;
    s["type"] = "summary";
    for (auto& [k, v] : summary.items()) s[k] = v;
    if (text) s["malformed_lines"] = source.malformed;
    if (o.check) {
      s["check"] = cut ? "interrupted" : failed ? "failed" : "passed";
      s["exceeded"] = exceeded;
    }
    if (cli::interrupted()) s["interrupted"] = true;
    write_json(s);
  }
  return failed ? cli::kExitNegative : cli::kExitPositive;
}

}  // namespace tcpstate
