#include "common/progress_line.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace tcpkit::cli {

void ProgressLine::show(const std::string& text) {
  if (!enabled_) return;
  text_ = text;
  // One terminal row at most: a line that wrapped would leave its first rows behind, since
  // "\r" and erase-to-end reach only the last one. (The text is ASCII: bytes are columns.)
  winsize w{};
  const size_t columns = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 1 ? w.ws_col : 80;
  const std::string row = text.size() < columns ? text : text.substr(0, columns - 1);
  std::fprintf(stderr, "\r%s\033[K", row.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!enabled_ || !shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

void ProgressLine::redraw() {
  if (enabled_ && !shown_ && !text_.empty()) show(text_);
}

}  // namespace tcpkit::cli
