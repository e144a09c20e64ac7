// run(): enters the namespace, then hands over to the view the options ask for.
#include <algorithm>

#include "common/cli_common.hpp"
#include "source.hpp"
#include "tcpkit/io/netns.hpp"
#include "views.hpp"

namespace tcpstate {

namespace {
int run_view(const Options& o) {
  tcpkit::cli::install_interrupt_handler();
  if (!o.netns.empty())
    if (auto r = tcpkit::enter_netns(o.netns); !r) return fail_with(r.error());
  if (o.watch_seconds) return run_watch(o);
  switch (o.report) {
    case Report::time_wait: return run_time_wait(o);
    case Report::syn_flood: return run_syn_flood(o);
    case Report::close_wait: return run_close_wait(o);
    case Report::follow: return run_follow(o);
    case Report::list: break;
  }
  if (o.summary || o.by) return run_summary(o);
  return run_list(o);
}
}  // namespace

int run(const Options& o) {
  if (o.explain) return run_explain(o);
  const int code = run_view(o);
  // The processes asked for (-p, close-wait) could not be read: the result is incomplete.
  return owners_failed() ? std::max(code, int(tcpkit::cli::kExitSystem)) : code;
}

}  // namespace tcpstate
