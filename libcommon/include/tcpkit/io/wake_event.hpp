#pragma once
// A wake-up one thread gives another that sleeps in poll(): an eventfd, readable once signalled
// until cleared. Used where a reader must stop waiting at once (the scanner's ring and its
// results queue) instead of sleeping out a timeout.
#include "tcpkit/io/unique_fd.hpp"
#include "tcpkit/util/error.hpp"

namespace tcpkit {

class WakeEvent {
 public:
  // what: named in the error ("eventfd (packet ring)").
  static Result<WakeEvent> open(const char* what);
  int fd() const { return fd_.get(); }  // poll it for POLLIN
  void signal() const;                   // any thread
  void clear() const;                    // after a wake-up, before sleeping again

 private:
  explicit WakeEvent(int fd) : fd_(fd) {}
  UniqueFd fd_;
};

// Whether `cancel_fd` (a tool's Ctrl-C eventfd, or a WakeEvent's fd) is readable now; a
// negative fd never is. For loops that check between steps rather than sleep in poll().
bool cancel_requested(int cancel_fd);

}  // namespace tcpkit
