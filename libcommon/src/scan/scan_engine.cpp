#include "tcpkit/scan/scan_engine.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <mutex>
#include <system_error>
#include <thread>

#include "tcpkit/io/frame_sender.hpp"
#include "tcpkit/io/raw_socket.hpp"
#include "tcpkit/util/counts.hpp"
#include "tcpkit/util/output.hpp"
#include "tcpkit/util/rate.hpp"
#include "tcpkit/io/route.hpp"
#include "tcpkit/scan/scan_filter.hpp"
#include "tcpkit/scan/scan_results.hpp"
#include "tcpkit/io/scan_ring.hpp"
#include "tcpkit/scan/probe_writer.hpp"

namespace tcpkit {

namespace {

using Clock = std::chrono::steady_clock;

// A batch the kernel takes only in part (its queue is full) is retried this many times, this
// far apart: about 10 ms in all before the rest counts as send errors.
constexpr int kSendAttempts = 50;
constexpr int64_t kSendRetryGapNs = 200'000;
// Between rounds: a few round trips (3 x the largest RTT seen) plus a margin for the peer's
// scheduling, never less than the margin, never more than --wait.
constexpr int64_t kRetryRtts = 3;
constexpr int64_t kRetryMarginNs = 20'000'000;
// After Ctrl-C: the last SYN/ACKs still get our RST, within a stop that must feel prompt.
constexpr int64_t kStopRtts = 2;
constexpr int64_t kStopMarginNs = 10'000'000, kStopMaxNs = 200'000'000;
// After the last wait the receiver drains the ring: it reads until one look of a block's
// handover (PacketRing::handover_ns) plus this much found nothing, so every reply that arrived before
// the end was read, however late the receiver thread was scheduled; at most this many looks.
constexpr int64_t kDrainSlackNs = 1'000'000;
constexpr int kDrainLooks = 100;
// Our RSTs to open ports go out in batches of this many, or at the end of each look at the
// ring, whichever comes first: one syscall per RST capped a /16 of open ports at the
// receiver thread's syscall rate.
constexpr size_t kResetBatch = 64;
// A send phase shorter than this is mostly the token bucket's first burst: its rate says nothing.
constexpr int64_t kRateJudgedAfterNs = 50'000'000;
// A run degraded by kernel drops or by a rate not reached: suggest at most half the asked rate
// and a fifth below what was achieved.
constexpr double kSuggestShareOfAsked = 0.5, kSuggestShareOfAchieved = 0.8;
// Sleeps of the sender (waiting for tokens or between rounds) are cut into steps this long, so
// that a stop (Ctrl-C, the reader gone) is seen within them; a wait between rounds, in steps of
// kAllAnsweredCheckNs, so that it ends soon after the last probe was answered.
constexpr int64_t kStopCheckNs = 5'000'000;
constexpr int64_t kAllAnsweredCheckNs = 1'000'000;
// A send thread gives way to a receiver half a ring behind in steps this long, at most the max
// per batch (a receiver that never catches up must not stop the scan).
constexpr int64_t kGiveWayStepNs = 200'000;
constexpr int64_t kGiveWayMaxNs = 50'000'000;
// The receiver's looks at the ring time out after this long while the sender still sends, so
// that it sees the end of the scan; during the last wait, after a block handover (the drain's).
constexpr int kReceiverLookMs = 10;
// The caller's thread wakes at least this often (ms) to drain results, show progress and see
// the end of the scan.
constexpr int kCallerPollMs = 20;

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  timespec ts{time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

// A batch of probes of one family waiting for tokens and sendmmsg.
struct Batch {
  std::vector<std::vector<uint8_t>> packets;
  std::vector<IpAddress> targets;
  size_t used = 0;
};

// One bit per probe of the shard: set when a reply gave the probe's port a state. Anonymous
// memory that is never written costs nothing, so a sparse scan stays small.
class AnswerBitmap {
 public:
  explicit AnswerBitmap(uint64_t bits) : words_((bits + 63) / 64) {
    if (words_ == 0) return;
    void* p = ::mmap(nullptr, words_ * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) data_ = static_cast<uint64_t*>(p);
  }
  ~AnswerBitmap() {
    if (data_) ::munmap(data_, words_ * 8);
  }
  AnswerBitmap(const AnswerBitmap&) = delete;
  AnswerBitmap& operator=(const AnswerBitmap&) = delete;
  bool ok() const { return words_ == 0 || data_ != nullptr; }
  bool test(uint64_t i) const {
    return (std::atomic_ref<uint64_t>(data_[i / 64]).load(std::memory_order_relaxed) >> (i % 64)) & 1;
  }
  // True when the bit was already set.
  bool test_and_set(uint64_t i) {
    const uint64_t mask = uint64_t(1) << (i % 64);
    return std::atomic_ref<uint64_t>(data_[i / 64]).fetch_or(mask, std::memory_order_relaxed) & mask;
  }

 private:
  uint64_t words_;
  uint64_t* data_ = nullptr;
};

// Round-trip times without per-probe state: the sender stamps each probe into a small table
// indexed by the probe number (one 64-bit word: the number's high bits, the round, and the send
// time in us since the scan began); a reply finds its probe's stamp unless 16384 later probes
// overwrote it, and then has no RTT. The largest RTT paces the retries.
// A retry keeps the probe's first stamp, and a reply is timed only from its own round's stamp:
// an answer to round 0 that comes after the retry went out (a slow network beside a fast one,
// whose waits came first) timed from the retry would read a wait too short, and the slow
// network's waits with it. An answer to a retry whose first try is still stamped has no RTT.
class RttSampler {
 public:
  explicit RttSampler(int64_t base_realtime) : base_(base_realtime) {}
  void stamp(uint64_t k, int64_t realtime, int round) {
    const int64_t us = (realtime - base_) / 1000;
    if (us < 0 || us >= (int64_t(1) << kTimeBits)) return;
    const uint64_t old = slots_[k % kSlots].load(std::memory_order_relaxed);
    if (round > 0 && old != 0 && ((old >> kTimeBits) & kKMask) == (tag_of(k, 0) & kKMask)) return;
    slots_[k % kSlots].store(tag_of(k, round) << kTimeBits | uint64_t(us), std::memory_order_relaxed);
  }
  // The probe's RTT in ns, or 0 when its stamp is gone or is another round's. round: the round
  // of the probe the reply answers, when its port tells (not with a fixed source port).
  int64_t reply(uint64_t k, int64_t realtime, std::optional<int> round) {
    const uint64_t word = slots_[k % kSlots].load(std::memory_order_relaxed);
    const uint64_t tag = word >> kTimeBits;
    if (word == 0 || (tag & kKMask) != (tag_of(k, 0) & kKMask)) return 0;
    if (round && (tag & kRoundMask) != (tag_of(k, *round) & kRoundMask)) return 0;
    const int64_t rtt = realtime - base_ - int64_t(word & ((uint64_t(1) << kTimeBits) - 1)) * 1000;
    if (rtt <= 0 || rtt > kMaxRttNs) return 0;
    int64_t seen = max_.load(std::memory_order_relaxed);
    while (rtt > seen && !max_.compare_exchange_weak(seen, rtt)) {
    }
    return rtt;
  }
  int64_t max_ns() const { return max_.load(std::memory_order_relaxed); }

 private:
  // 16384 probes in flight at once: at 10,000 probes/s, 1.6 s of them, more than the RTT
  // of any reply that still counts (--wait's default is 1 s). 128 kB.
  static constexpr size_t kSlots = 16384;
  // A reply "60 s after" its stamp is a stale or foreign stamp, not a round trip.
  static constexpr int64_t kMaxRttNs = 60'000'000'000;
  static constexpr int kTimeBits = 40;  // 12 days in us
  // 24 bits: the round's low 5 bits (--retries allows 21 rounds), then the bits of k above the
  // slot index, kept to 19 bits (+1 so that no tag is 0).
  static constexpr uint64_t kRoundMask = 0x1F, kKMask = ~kRoundMask & 0xFFFFFF;
  static uint64_t tag_of(uint64_t k, int round) {
    return ((((k / kSlots) & 0x7FFFE) + 1) << 5) | (uint64_t(round) & kRoundMask);
  }
  const int64_t base_;
  std::array<std::atomic<uint64_t>, kSlots> slots_{};
  std::atomic<int64_t> max_{0};
};

}  // namespace

struct ScanEngine::Impl {
  const ScanPlan& plan;
  const ScanSources& sources;
  ScanConfig config;
  ProbeWriter writer;      // every probe's and every RST's bytes
  const ProbeKind& kind;   // how replies are filtered, checked, read and answered
  std::string send_path_name = "ip", send_path_why;
  std::optional<RawSender> reset4, reset6;  // receiver thread (a socket is not shared between threads)
  std::optional<FrameSender> reset_frames4, reset_frames6;  // receiver thread: instead of reset4/6 when open
  Batch reset_batches[2];                   // receiver thread: RSTs not yet sent (IPv4, IPv6)
  PacketRing ring;
  AnswerBitmap answered;
  // How each probe's first answer read, open or not (pages touched only where answers came; a
  // probe left out is in neither): a second answer that says otherwise is a conflict.
  AnswerBitmap first_positive, first_negative;
  RttSampler rtt;
  NetworkRtts net_rtts;  // of first answers only, pooled and per network: the waits (scan_timing.hpp)
  RttHistogram reader_lag;  // from the kernel's receive stamp to the receiver's reading, per answer

  std::atomic<bool> stop_sending{false}, sending_done{false}, stop_receiving{false}, receiving_done{false};
  std::atomic<uint64_t> sent{0}, send_errors{0}, received{0}, replies{0}, bad_cookie{0}, unsolicited{0},
      duplicates{0}, conflicting{0}, resets_sent{0}, answered_count{0}, positive{0}, bad_cookie_icmp{0},
      unsolicited_icmp{0};
  std::atomic<int> round{0};
  std::atomic<int64_t> paused_for_receiver_ns{0};  // send threads: time given way to the receiver
  std::atomic<bool> waiting{false};
  std::optional<Error> receive_error;  // receiver thread; read after it is joined
  std::mutex send_error_mutex;
  std::optional<Error> first_send_error;  // the first send the kernel refused (EPERM, no route...)
  // Drop signs (scan_drops.hpp): first answers by the round whose probe got them, and round
  // 0's by quarter of its order. 32 holds every round --retries allows (at most 21); rounds
  // past the array's end would share its last slot.
  static constexpr size_t kRoundSlots = 32;
  std::array<std::atomic<uint64_t>, kRoundSlots> answers_by_round{};
  std::array<std::atomic<uint64_t>, kRoundSlots> icmp_answers_by_round{};  // of those, ICMP errors
  std::array<std::atomic<uint64_t>, 4> round0_quarters{};
  std::vector<RoundTally> tally;  // sender thread; read after it is joined
  int64_t round0_send_ns = 0;
  uint64_t round0_sent = 0;
  int64_t send_ns_total = 0;
  int rounds_done = 0;
  std::vector<uint64_t> found_by_round;  // sender thread: first answers from a round's start to its wait's end
  std::vector<int64_t> waits_ns;         // sender thread: the wait after each round
  WaitSource wait_source = WaitSource::start;
  double round_rate = 0;           // sender thread: the rate of the round, all lanes together
  NetworkRtts::Choice wait_choice;  // sender thread: the last wait chosen from the RTTs

  std::unique_ptr<ScanResultQueue> results;

  Impl(const ScanPlan& p, const ScanSources& s, const ScanConfig& c, ProbeWriter w, PacketRing r,
       std::unique_ptr<ScanResultQueue> q)
      : plan(p), sources(s), config(c), writer(std::move(w)), kind(writer.kind()), ring(std::move(r)),
        answered(p.length()), first_positive(p.length()), first_negative(p.length()), rtt(realtime_ns()), net_rtts(networks_in(p.targets())), results(std::move(q)) {}

  bool our_port(uint16_t port) const { return port >= config.source_port && port <= config.last_source_port(); }

  size_t round_slot(uint16_t local_port) const {  // the round a reply's probe was sent in
    const int r = config.fixed_source_port ? round.load() : int(local_port - config.source_port);
    return std::min<size_t>(size_t(std::max(r, 0)), kRoundSlots - 1);
  }
  size_t quarter_of(uint64_t k) const { return size_t(std::min<uint64_t>(3, k / ((plan.length() + 3) / 4))); }

  bool wait_or_stop(int64_t ns) {  // sleeps in short steps; true when told to stop
    const int64_t end = monotonic_ns() + ns;
    while (!stop_sending.load()) {
      if (answered_count.load() >= plan.length()) return false;
      const int64_t left = end - monotonic_ns();
      if (left <= 0) return false;
      sleep_ns(std::min<int64_t>(left, kAllAnsweredCheckNs));
    }
    return true;
  }

  QuarterAnswers quarter_counts() const {
    QuarterAnswers q{};
    for (size_t i = 0; i < q.size(); ++i) q[i] = round0_quarters[i].load();
    return q;
  }

  // One sending thread's sockets (a socket is not shared between threads) and pacing: batches
  // and bucket follow its share of the round's rate, a ceiling over any 100 ms. The sender thread
  // has lane 0; with config.send_threads = N, lanes 1..N-1 run beside it during each round, each
  // over every N-th probe of the order at 1/N of the rate. Why: on Linux the kernel does the
  // rest of a frame's way (and, on a veth, the peer's whole answer) inside the sending syscall,
  // so one thread caps the probes per second at one core's worth.
  struct SendLane {
    std::optional<RawSender> ip4, ip6;
    std::optional<FrameSender> frames4, frames6;  // used instead of ip4/ip6 when open
    double rate = 0;
    Pacing pacing;
    TokenBucket bucket{1, 1};
    Batch batches[2];  // IPv4, IPv6
    SilentNetworks unmeasured;  // the networks this round sent to while they had no RTTs of their own
    void set_rate(double r, size_t max_batch);
  };
  std::vector<SendLane> lanes;
  void set_round_rate(double rate);
  void send_loop();
  void slow_down_after_drops(int r);
  void send_round(int r);
  void send_lane(SendLane& lane, size_t index, int r, uint16_t sport);
  void flush(SendLane& lane, Batch& b, bool v6);
  void give_way_to_receiver();
  bool wait_for_tokens(TokenBucket& bucket, size_t n);  // false when told to stop
  template <class Sender>
  size_t send_with_retries(Sender& sender, Batch& b);
  size_t send_used(Batch& b, std::optional<FrameSender>& frames, std::optional<RawSender>& raw);
  int64_t retry_gap_ns() const;
  int64_t between_rounds_ns(int r);
  // false: no round after this one. waited_ns: the time the wait really took (it ends early
  // once every probe is answered).
  bool wait_after_round(int r, uint64_t answered_before, std::optional<int64_t>& waited_ns);
  void linger_for_replies(std::optional<int64_t> waited_ns);  // none: the last round did not wait
  void receive_loop();
  void flush_resets(bool v6);
  void handle(const uint8_t* data, size_t length, int64_t time_ns);
  // The caller's thread: results and progress while the scan runs.
  using ResultFn = std::function<void(const ScanResult&)>;
  using ProgressFn = std::function<void(const ScanProgress&)>;
  void serve_caller(const ResultFn& on_result, const ProgressFn& on_progress, std::chrono::milliseconds interval,
                    Clock::time_point start, ScanSummary& summary);
  void drain(std::vector<QueuedResult>& batch, const ResultFn& on_result, ScanSummary& summary);
  ScanProgress progress_since(Clock::time_point start) const;
  // After both threads ended: the ports that never answered, the counters, the degraded reasons.
  void report_unanswered(const std::function<void(const ScanResult&)>& on_result, ScanSummary& summary) const;
  void fill_counts(ScanSummary& summary);
  void judge_degraded(ScanSummary& summary) const;
};

namespace {
// What a probe kind's on_reply may send: our RST on the reply's 4-tuple, queued in the
// receiver thread's batch (flush_resets sends it).
class ResetResponder final : public ReplyResponder {
 public:
  ResetResponder(const ProbeWriter& writer, Batch& batch, const IpAddress& local, uint16_t local_port,
                 const IpAddress& target, uint16_t target_port, uint64_t cookie)
      : writer_(writer), batch_(batch), local_(local), target_(target), local_port_(local_port),
        target_port_(target_port), cookie_(cookie) {}
  void send_reset(uint32_t seq) override {
    if (batch_.packets.size() <= batch_.used) {
      batch_.packets.resize(batch_.used + 1);
      batch_.targets.resize(batch_.used + 1);
    }
    if (!writer_.write_reset(batch_.packets[batch_.used], local_, local_port_, target_, target_port_, seq, cookie_))
      return;
    batch_.targets[batch_.used] = target_;
    ++batch_.used;
  }

 private:
  const ProbeWriter& writer_;
  Batch& batch_;
  const IpAddress &local_, &target_;
  uint16_t local_port_, target_port_;
  uint64_t cookie_;
};
}  // namespace

void ScanEngine::Impl::SendLane::set_rate(double r, size_t max_batch) {
  rate = r;
  pacing = pacing_for(rate, max_batch);
  bucket = TokenBucket(pacing.rate, pacing.burst);
  for (auto& b : batches) {  // empty between rounds: only their size changes
    b.packets.resize(pacing.batch);
    b.targets.resize(pacing.batch);
  }
}

bool ScanEngine::Impl::wait_for_tokens(TokenBucket& bucket, size_t n) {
  while (!stop_sending.load()) {
    const int64_t w = bucket.wait_ns(n, monotonic_ns());
    if (w == 0) return true;
    sleep_ns(std::min<int64_t>(w, kStopCheckNs));
  }
  return false;
}

// A full socket buffer (ENOBUFS) is retried a bounded number of times; returns how many of
// the batch the kernel took.
template <class Sender>
size_t ScanEngine::Impl::send_with_retries(Sender& sender, Batch& b) {
  size_t done = 0;
  for (int attempt = 0; attempt < kSendAttempts && done < b.used; ++attempt) {
    auto r = sender.send_batch(b.packets, b.targets);
    const size_t n = r ? *r : 0;
    if (!r) {  // a hard error (a firewall's EPERM, no route): count and move on
      const std::lock_guard<std::mutex> lock(send_error_mutex);
      if (!first_send_error) first_send_error = r.error();
      break;
    }
    done += n;
    if (done < b.used) {
      b.packets.erase(b.packets.begin(), b.packets.begin() + long(n));
      b.targets.erase(b.targets.begin(), b.targets.begin() + long(n));
      sleep_ns(kSendRetryGapNs);
    }
  }
  return done;
}

// The batch's first `used` packets, as frames where that socket is open, else through the raw
// socket; returns how many the kernel took. Used by the probes' sender and the RSTs' alike.
size_t ScanEngine::Impl::send_used(Batch& b, std::optional<FrameSender>& frames, std::optional<RawSender>& raw) {
  b.packets.resize(b.used);  // send_batch sends whole vectors
  b.targets.resize(b.used);
  return frames ? send_with_retries(*frames, b) : raw ? send_with_retries(*raw, b) : 0;
}

// Waits for the whole batch's tokens, then sends; what the kernel never took counts as send errors.
void ScanEngine::Impl::flush(SendLane& lane, Batch& b, bool v6) {
  if (b.used == 0) return;
  if (!wait_for_tokens(lane.bucket, b.used)) {  // Ctrl-C while waiting for tokens: these were never sent
    b.used = 0;
    return;
  }
  give_way_to_receiver();
  lane.bucket.take(b.used, monotonic_ns());
  const size_t done = send_used(b, v6 ? lane.frames6 : lane.frames4, v6 ? lane.ip6 : lane.ip4);
  sent.fetch_add(done);
  send_errors.fetch_add(b.used - done);
  b.packets.resize(lane.pacing.batch);
  b.targets.resize(lane.pacing.batch);
  b.used = 0;
}

// While the receiver is half a ring behind, the sender waits (in short steps, a bounded time per
// batch): probes sent now would only have their replies dropped by the full ring. The CPU the
// sending threads give up is the receiver's on a machine with few cores.
void ScanEngine::Impl::give_way_to_receiver() {
  int64_t paused = 0;
  while (ring.reader_behind() && paused < kGiveWayMaxNs && !stop_sending.load()) {
    sleep_ns(kGiveWayStepNs);
    paused += kGiveWayStepNs;
  }
  if (paused) paused_for_receiver_ns.fetch_add(paused, std::memory_order_relaxed);
}

// Each lane paces its share of the rate.
void ScanEngine::Impl::set_round_rate(double rate) {
  round_rate = rate;
  for (auto& lane : lanes) lane.set_rate(rate / double(lanes.size()), config.batch);
}

// The round just waited for (round r - 1) showed drops: round r goes slower.
void ScanEngine::Impl::slow_down_after_drops(int r) {
  const uint64_t found = answers_by_round[std::min<size_t>(size_t(r - 1), kRoundSlots - 1)].load();
  const bool dropped =
      r == 1 ? answers_collapsed(quarter_counts()) : retry_found_answers(RoundTally{tally.back().sent, found, round_rate});
  const double slower = slower_rate(round_rate, config.min_rate);
  if (dropped && slower < round_rate) set_round_rate(slower);
}

// One walk of the plan's order, skipping the probes already answered, by every lane at once;
// tallies the round.
void ScanEngine::Impl::send_round(int r) {
  round.store(r);
  const uint16_t sport = config.port_of_round(r);
  const int64_t start = monotonic_ns();
  const uint64_t sent_before = sent.load() + send_errors.load();
  std::vector<std::thread> helpers;
  std::vector<size_t> inline_lanes;  // lanes whose thread could not start: sent after lane 0's
  for (size_t i = 1; i < lanes.size(); ++i) {
    try {
      helpers.emplace_back([this, i, r, sport] { send_lane(lanes[i], i, r, sport); });
    } catch (const std::system_error&) {
      inline_lanes.push_back(i);
    }
  }
  send_lane(lanes[0], 0, r, sport);
  for (auto& h : helpers) h.join();
  for (const size_t i : inline_lanes) send_lane(lanes[i], i, r, sport);
  const int64_t spent = monotonic_ns() - start;
  const uint64_t round_sent = sent.load() + send_errors.load() - sent_before;
  send_ns_total += spent;
  tally.push_back(RoundTally{round_sent, 0, round_rate, double(spent) / 1e9});
  if (r == 0) {
    round0_send_ns = spent;
    round0_sent = round_sent;
  }
  rounds_done = r + 1;
}

// Lane `index` of the round: the probes k = index, index + lanes, index + 2 lanes...
void ScanEngine::Impl::send_lane(SendLane& lane, size_t index, int r, uint16_t sport) {
  const uint64_t length = plan.length();
  const size_t batch_size = lane.pacing.batch;
  lane.unmeasured.clear();
  // The send time stamped for the RTT: read once per batch (a clock read per probe was 1 % of
  // a fast scan's CPU), again after each flush, which may have slept for tokens.
  int64_t stamp_time = realtime_ns();
  for (uint64_t k = index; k < length && !stop_sending.load(); k += lanes.size()) {
    if (answered.test(k)) continue;
    const PlannedProbe p = plan.probe(k);
    const size_t range = plan.targets().range_of(p.host_index);
    const bool v6 = writer.v6(range);
    Batch& b = lane.batches[v6 ? 1 : 0];
    writer.write(b.packets[b.used], range, p.address, p.port, sport);
    b.targets[b.used] = p.address;
    ++b.used;
    rtt.stamp(k, stamp_time, r);
    if (!net_rtts.mark_probed(p.address, r)) lane.unmeasured.add(NetworkKey::of(p.address));
    if (b.used == batch_size) {
      flush(lane, b, v6);
      stamp_time = realtime_ns();
    }
  }
  flush(lane, lane.batches[0], false);
  flush(lane, lane.batches[1], true);
}

// With --wait: retry once the replies to this round should be in, a few round trips of the
// largest seen, at most --wait.
int64_t ScanEngine::Impl::retry_gap_ns() const {
  const int64_t wait_cap = int64_t(config.wait.count()) * 1000;
  const int64_t max_rtt = rtt.max_ns();
  const int64_t floor = std::min(kRetryMarginNs, wait_cap);  // a --wait below the margin wins
  return max_rtt > 0 ? std::clamp<int64_t>(kRetryRtts * max_rtt + kRetryMarginNs, floor, wait_cap) : wait_cap;
}

int64_t ScanEngine::Impl::between_rounds_ns(int r) {
  if (config.wait_forced) {
    wait_source = WaitSource::forced;
    return retry_gap_ns();
  }
  // Networks probed while silent that answered meanwhile wait as their own RTTs say.
  const bool unmeasured_probed = std::any_of(lanes.begin(), lanes.end(),
                                             [this](const SendLane& l) { return net_rtts.still_silent(l.unmeasured); });
  WaitLimits limits;
  limits.reader_lag_ns = reader_lag.percentile_ns(limits.percentile);
  wait_choice = net_rtts.wait_after(r, unmeasured_probed, limits);
  wait_source = wait_choice.wait.source;
  return wait_choice.wait.ns;
}

// Waits after round r, then says whether another round goes out: while probes are unanswered,
// within --retries / the cap, and (unless --retries fixed the rounds) while scan_timing says so.
bool ScanEngine::Impl::wait_after_round(int r, uint64_t answered_before, std::optional<int64_t>& waited_ns) {
  const uint64_t length = plan.length();
  if (r >= config.retries || answered_count.load() >= length) return false;
  const int64_t gap = between_rounds_ns(r);
  waits_ns.push_back(gap);
  const int64_t start = monotonic_ns();
  const bool stopped = wait_or_stop(gap);
  waited_ns = std::min(monotonic_ns() - start, gap);  // a sleep overshooting its end by a step is still that wait
  if (stopped) return false;
  const uint64_t answered_now = answered_count.load();
  found_by_round.push_back(answered_now - answered_before);
  if (answered_now >= length) return false;
  return config.fixed_rounds || another_round(found_by_round, length - answered_now, config.retries);
}

// After the last round: the wait for late replies (what the round's own wait left of it), or
// after a stop a short linger, so that the SYN/ACKs to the last probes still get our RST.
// Short: the stop must be prompt. The last round's wait is reported as the one chosen here,
// from the RTTs known now; waited_ns is what its own wait really took (not what that wait
// planned before any answer: a wait cut short by the last answer is no 1 s wait).
void ScanEngine::Impl::linger_for_replies(std::optional<int64_t> waited_ns) {
  waiting.store(true);
  ring.wake();  // the receiver's looks get short now, not after its current one
  if (!stop_sending.load()) {
    int64_t final_ns = int64_t(config.wait.count()) * 1000;
    if (config.wait_forced) {
      wait_source = WaitSource::forced;
    } else {
      final_ns = between_rounds_ns(rounds_done - 1);  // the RTTs may have grown meanwhile
    }
    final_ns = std::max(final_ns, waited_ns.value_or(0));
    if (waited_ns) waits_ns.back() = final_ns;
    else waits_ns.push_back(final_ns);
    wait_or_stop(final_ns - waited_ns.value_or(0));
  } else if (sent.load() > 0) {
    const int64_t max_rtt = rtt.max_ns();
    sleep_ns(std::clamp<int64_t>(kStopRtts * max_rtt + kStopMarginNs, kStopMarginNs, kStopMaxNs));
  }
}

void ScanEngine::Impl::send_loop() {
  set_round_rate(config.rate);
  std::optional<int64_t> waited_ns;  // by the last round's own wait, when no round followed it
  for (int r = 0; !stop_sending.load(); ++r) {
    if (r > 0) slow_down_after_drops(r);
    const uint64_t answered_before = answered_count.load();
    send_round(r);
    if (sent.load() == 0 && send_errors.load() > 0) break;  // the kernel refused every probe: retrying is no use
    waited_ns.reset();
    if (!wait_after_round(r, answered_before, waited_ns)) break;
  }
  linger_for_replies(waited_ns);
  sending_done.store(true);
  stop_receiving.store(true);
  ring.wake();
}

void ScanEngine::Impl::handle(const uint8_t* data, size_t length, int64_t time_ns) {
  const auto d = decode_packet(data, length);
  if (!d) return;
  IpAddress local, target;
  uint16_t local_port = 0, target_port = 0;  // local_port tells the round
  if (d->kind == DecodedPacket::Kind::tcp) {
    if (!our_port(d->tcp.dport)) return;
    // Scanning our own address on our own source ports shows us our probe: not a reply.
    if (our_port(d->tcp.sport) && d->src == d->dst && d->tcp.flags == config.flags) return;
    local = d->dst;
    local_port = d->tcp.dport;
    target = d->src;
    target_port = d->tcp.sport;
  } else if (d->kind == DecodedPacket::Kind::icmp_error) {
    const auto& q = d->icmp.quoted;
    if (q.protocol != 6 || !q.ports_known || !our_port(q.sport)) return;
    local = q.src;
    local_port = q.sport;
    target = q.dst;
    target_port = q.dport;
  } else {
    return;
  }
  received.fetch_add(1);
  const auto k = plan.local_index(target, target_port);
  const bool icmp = d->kind == DecodedPacket::Kind::icmp_error;
  if (!k) {
    unsolicited.fetch_add(1);
    if (icmp) unsolicited_icmp.fetch_add(1);
    return;
  }
  if (!kind.filter(*d)) return;  // no reply this kind reads (a stray ACK, a FIN...)
  const uint64_t c = writer.cookie_of(local, local_port, target, target_port);
  if (!kind.validate(writer.numbers_of(c), *d)) {
    bad_cookie.fetch_add(1);
    if (icmp) bad_cookie_icmp.fetch_add(1);
    return;
  }
  const auto verdict = kind.classify(*d);
  if (!verdict) return;
  replies.fetch_add(1);
  const bool v6 = target.is_v6();
  ResetResponder responder(writer, reset_batches[v6 ? 1 : 0], local, local_port, target, target_port, c);
  kind.on_reply(*d, responder);
  if (reset_batches[v6 ? 1 : 0].used >= kResetBatch) flush_resets(v6);
  const bool positive_answer = verdict->state == positive_state(kind.style);
  if (answered.test_and_set(*k)) {
    duplicates.fetch_add(1);
    // Open after a reset, or the other way: two parties answer this port (an IPS or firewall
    // that resets in front of the server, a spoofer). The first answer stands; this one is
    // reported beside it, never counted as a mere copy (found: "1 duplicate", nothing more).
    // Once a port: its other bit set then marks it reported (a retransmitted SYN/ACK, a flood).
    if ((positive_answer ? first_negative.test(*k) : first_positive.test(*k)) &&
        !(positive_answer ? first_positive : first_negative).test_and_set(*k)) {
      conflicting.fetch_add(1);
      QueuedResult second = QueuedResult::of(*k, *verdict, d->ttl, time_ns);
      second.conflict = true;
      results->push(second);
    }
    return;
  }
  (positive_answer ? first_positive : first_negative).test_and_set(*k);
  // Of the first answer only: a copy's or a second party's time is not the path's.
  const std::optional<int> probe_round =
      config.fixed_source_port ? std::nullopt : std::optional<int>(int(local_port - config.source_port));
  const int64_t rtt_ns = rtt.reply(*k, time_ns, probe_round);
  answered_count.fetch_add(1);
  net_rtts.add(target, rtt_ns, round.load(std::memory_order_relaxed));
  reader_lag.add(realtime_ns() - time_ns);
  const size_t slot = round_slot(local_port);
  answers_by_round[slot].fetch_add(1);
  if (verdict->reason == Reason::icmp_unreachable) icmp_answers_by_round[slot].fetch_add(1);
  if (slot == 0) round0_quarters[quarter_of(*k)].fetch_add(1);
  if (positive_answer) positive.fetch_add(1);
  results->push(QueuedResult::of(*k, *verdict, d->ttl, time_ns, rtt_ns));
}

void ScanEngine::Impl::flush_resets(bool v6) {
  Batch& b = reset_batches[v6 ? 1 : 0];
  if (b.used == 0) return;
  resets_sent.fetch_add(send_used(b, v6 ? reset_frames6 : reset_frames4, v6 ? reset6 : reset4));
  b.used = 0;
}

void ScanEngine::Impl::receive_loop() {
  const auto handler = [this](const uint8_t* data, size_t length, int64_t time_ns) { handle(data, length, time_ns); };
  const int drain_ms = int((ring.handover_ns() + kDrainSlackNs + 999'999) / 1'000'000);
  const auto look = [&](int timeout_ms) {  // every RST queued by what was read goes out before the next wait
    auto r = ring.poll(timeout_ms, handler);
    flush_resets(false);
    flush_resets(true);
    return r;
  };
  // In the last wait the looks are as short as the drain's, so the end is seen at once.
  const auto look_until_end = [&](int) { return look(waiting.load() ? drain_ms : kReceiverLookMs); };
  auto ok = poll_until(look_until_end, [this] { return stop_receiving.load(); });
  if (!ok) {
    // The ring is broken: every reply from now on would be lost, so the scan stops here.
    receive_error = ok.error();
    receive_error->message = "reading replies failed: " + receive_error->message;
    stop_sending.store(true);
  } else {
    // The kernel hands a partly filled block over after its timeout: read until a look that
    // long found nothing (a receiver still behind finds blocks, and looks again).
    for (int n = 0; n < kDrainLooks; ++n) {
      auto r = look(drain_ms);
      if (!r || *r == 0) break;
    }
  }
  receiving_done.store(true);
  results->wake();  // the caller's thread sees the end now, not at its next timeout
}

void ScanEngine::Impl::report_unanswered(const std::function<void(const ScanResult&)>& on_result,
                                         ScanSummary& summary) const {
  for (uint64_t k = 0; k < plan.length(); ++k) {
    if (answered.test(k)) continue;
    const PlannedProbe probe = plan.probe(k);
    ScanResult r;
    r.address = probe.address;
    r.port = probe.port;
    r.verdict.state = no_reply_state(kind.style);
    r.verdict.reason = Reason::no_response;
    ++summary.states[size_t(r.verdict.state)];
    if (on_result) on_result(r);
  }
}

// Counter by counter into the summary (tcpprobe's probe_run does the same for its own, different
// structs: alike in shape only).
void ScanEngine::Impl::fill_counts(ScanSummary& summary) {
  summary.send_path = send_path_name;
  summary.send_threads = lanes.size();
  summary.paused_for_receiver_ms = double(paused_for_receiver_ns.load()) / 1e6;
  summary.send_path_why = send_path_why;
  summary.sent = sent.load();
  summary.send_errors = send_errors.load();
  summary.received = received.load();
  summary.replies = replies.load();
  summary.bad_cookie = bad_cookie.load();
  summary.unsolicited = unsolicited.load();
  summary.duplicates = duplicates.load();
  summary.conflicting = conflicting.load();
  summary.resets_sent = resets_sent.load();
  const RingStats ring_stats = ring.stats();
  summary.kernel_drops = ring_stats.drops;
  summary.bad_checksum = ring_stats.bad_checksum;
  const uint64_t cookie_icmp = bad_cookie_icmp.load(), unsolicited_icmp_n = unsolicited_icmp.load();
  summary.rejected.add(RejectReason::wrong_ack, summary.bad_cookie - cookie_icmp);
  summary.rejected.add(RejectReason::wrong_address, summary.unsolicited - unsolicited_icmp_n);
  summary.rejected.add(RejectReason::wrong_quote, cookie_icmp + unsolicited_icmp_n);
  summary.rejected.add(RejectReason::bad_checksum, summary.bad_checksum);
  summary.rejected.add(RejectReason::unverifiable, ring_stats.unverifiable);
  summary.rounds = rounds_done;
  summary.send_s = double(send_ns_total) / 1e9;
  summary.max_rtt_us = rtt.max_ns() / 1000;
  summary.rtt_p99_us = net_rtts.pooled().percentile_ns(WaitLimits{}.percentile) / 1000;
  summary.reader_lag_p99_us = reader_lag.percentile_ns(WaitLimits{}.percentile) / 1000;
  summary.networks_measured = net_rtts.measured();
  if (wait_source == WaitSource::measured && wait_choice.network_set_it) {
    summary.wait_network = wait_choice.network.to_string();
    summary.wait_network_p99_us = wait_choice.network_p99_ns / 1000;
  }
  for (const int64_t w : waits_ns) summary.waits_us.push_back(w / 1000);
  summary.wait_source = wait_source;
  if (round0_send_ns > 0) summary.achieved_rate = double(round0_sent) * 1e9 / double(round0_send_ns);
  summary.rate_measured = round0_send_ns >= kRateJudgedAfterNs;
}

// Degraded: something may have been missed or the scan ran slower than asked.
void ScanEngine::Impl::judge_degraded(ScanSummary& summary) const {
  if (summary.kernel_drops > 0)
    summary.degraded_reasons.push_back(count_of(summary.kernel_drops, "packet") +
                                       " dropped by the kernel before tcpscan could read them");
  if (summary.send_errors > 0)
    summary.degraded_reasons.push_back(count_of(summary.send_errors, "probe") + " could not be sent" +
                                       (first_send_error ? " (" + first_send_error->message + ")" : ""));
  // The rate only means something over a send phase long enough to leave the bucket's burst behind.
  const bool rate_short = summary.rate_measured && summary.achieved_rate < 0.9 * summary.requested_rate;
  if (rate_short)
    summary.degraded_reasons.push_back("sent " + std::to_string(uint64_t(summary.achieved_rate)) +
                                       " probes/s of the " + std::to_string(uint64_t(summary.requested_rate)) +
                                       " asked for");
  // A forced wait shorter than the waits for an unheard-of network, and not one answer: if the
  // round trip is longer than that wait, every port looks filtered, and nothing shows it.
  const int64_t forced_ns = int64_t(config.wait.count()) * 1000;
  if (config.wait_forced && forced_ns < WaitLimits{}.unmeasured_floor_ns && answered_count.load() == 0 &&
      summary.sent > 0 && !summary.interrupted)
    summary.degraded_reasons.push_back("no answer came within the forced --wait of " +
                                       format_fixed(double(forced_ns) / 1e6, 1) +
                                       " ms: a longer round trip makes every port look filtered (without --wait, "
                                       "a network not yet heard from is waited for at least " +
                                       std::to_string(WaitLimits{}.unmeasured_floor_ns / 1'000'000) + " ms)");
  // Drops on the way: a port whose probe was dropped looks filtered (scan_drops.hpp).
  summary.rounds_tally = tally;
  for (size_t r = 0; r < summary.rounds_tally.size(); ++r) {
    const size_t slot = std::min(r, kRoundSlots - 1);
    summary.rounds_tally[r].answers = answers_by_round[slot].load();
    summary.rounds_tally[r].icmp_answers = icmp_answers_by_round[slot].load();
  }
  summary.round0_quarters = quarter_counts();
  if (!summary.interrupted) {
    auto drops = judge_drops(summary.rounds_tally, summary.round0_quarters, summary.requested_rate);
    for (auto& r : drops.reasons) summary.degraded_reasons.push_back(std::move(r));
    summary.suggested_rate = drops.suggested_rate;
    summary.suggested_from_passing = drops.suggested_from_passing;
  }
  // A ring that overflowed or a machine that could not keep up is helped by a lower rate too; a
  // send the kernel refused is not, and gets no suggestion.
  if (summary.suggested_rate == 0 && (summary.kernel_drops > 0 || rate_short))
    summary.suggested_rate = std::max(1.0, std::floor(std::min(summary.requested_rate * kSuggestShareOfAsked,
                                                               summary.achieved_rate * kSuggestShareOfAchieved)));
}

ScanEngine::ScanEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScanEngine::~ScanEngine() = default;

Result<std::unique_ptr<ScanEngine>> ScanEngine::open(const ScanPlan& plan, const ScanSources& sources,
                                                     const ScanConfig& config, const SendPath& path) {
  if (sources.by_range.size() != plan.targets().ranges().size())
    return fail(ErrorCode::system, "scan sources do not match the targets");
  if (auto ok = check_source_ports(config); !ok) return tl::unexpected(ok.error());  // before the ring is opened
  RingOptions ring_options = ring_for_rate(config.rate);
  ring_options.interface_index = sources.interface_index;
  ring_options.filter = scan_reply_filter(config.source_port, config.last_source_port(), ring_options.snaplen);
  auto ring = PacketRing::open(ring_options);
  if (!ring) return tl::unexpected(ring.error());
  auto queue = ScanResultQueue::open();
  if (!queue) return tl::unexpected(queue.error());
  auto writer = ProbeWriter::make(config, sources);
  if (!writer) return tl::unexpected(writer.error());
  auto impl = std::make_unique<Impl>(plan, sources, config, std::move(*writer), std::move(*ring), std::move(*queue));
  if (!impl->answered.ok() || !impl->first_positive.ok() || !impl->first_negative.ok())
    return fail(ErrorCode::system, "cannot allocate the answered-probe bitmaps");

  // Bound to lo, a probe to one of this host's other addresses is routed as if on lo's link and
  // dropped on arrival: no RST would ever come, and closed ports would look filtered.
  const std::string bind_to = sources.local ? std::string() : sources.interface;
  impl->lanes.resize(std::clamp<size_t>(config.send_threads, 1, kMaxSendThreads));
  for (const auto& address : sources.by_range) {
    auto& reset = address.is_v6() ? impl->reset6 : impl->reset4;
    if (reset) continue;
    auto b = RawSender::open(address.family(), bind_to);
    if (!b) return tl::unexpected(b.error());
    reset.emplace(std::move(*b));
    for (auto& lane : impl->lanes) {
      auto a = RawSender::open(address.family(), bind_to);
      if (!a) return tl::unexpected(a.error());
      (address.is_v6() ? lane.ip6 : lane.ip4).emplace(std::move(*a));
    }
  }
  for (const bool v6 : {false, true}) {
    const auto& route = v6 ? path.v6 : path.v4;
    if (!route) continue;
    for (auto& lane : impl->lanes) {
      auto f = FrameSender::open(*route);
      if (!f) return tl::unexpected(f.error());
      (v6 ? lane.frames6 : lane.frames4).emplace(std::move(*f));
    }
    auto r = FrameSender::open(*route);
    if (!r) return tl::unexpected(r.error());
    (v6 ? impl->reset_frames6 : impl->reset_frames4).emplace(std::move(*r));
  }
  impl->send_path_name = send_path_name(path);
  impl->send_path_why = path.why_ip;
  return std::unique_ptr<ScanEngine>(new ScanEngine(std::move(impl)));
}

void ScanEngine::leave_out(const std::function<bool(const PlannedProbe&)>& unwanted) {
  Impl& m = *impl_;
  // Marked answered: no round sends them, the end reports none, and a run whose wanted probes
  // all answered stops waiting.
  for (uint64_t k = 0; k < m.plan.length(); ++k)
    if (unwanted(m.plan.probe(k)) && !m.answered.test_and_set(k)) m.answered_count.fetch_add(1);
}

void ScanEngine::Impl::drain(std::vector<QueuedResult>& batch, const ResultFn& on_result, ScanSummary& summary) {
  results->take(batch);
  for (const auto& q : batch) {
    const PlannedProbe probe = plan.probe(q.k);
    ScanResult r;
    r.address = probe.address;
    r.port = probe.port;
    r.verdict = q.verdict();
    r.ttl = q.ttl;
    r.time_ns = q.time_ns;
    r.rtt_ns = q.rtt_ns;
    r.conflict = q.conflict;
    if (!r.conflict) ++summary.states[size_t(r.verdict.state)];
    if (on_result) on_result(r);
  }
}

// The live counters for the progress line (fill_counts reads some of them again for the
// summary: alike in shape only, another struct at another moment).
ScanProgress ScanEngine::Impl::progress_since(Clock::time_point start) const {
  ScanProgress p;
  p.planned = plan.length();
  p.sent = sent.load();
  p.replies = replies.load();
  p.answered = answered_count.load();
  p.positive = positive.load();
  p.round = round.load();
  p.waiting = waiting.load();
  p.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  return p;
}

// Until the receiver ends: results and progress reach the caller on its thread, and Ctrl-C
// (cancel_fd) stops the sender.
void ScanEngine::Impl::serve_caller(const ResultFn& on_result, const ProgressFn& on_progress,
                                    std::chrono::milliseconds progress_interval, Clock::time_point start,
                                    ScanSummary& summary) {
  std::vector<QueuedResult> batch;
  auto next_progress = Clock::now() + progress_interval;
  while (!receiving_done.load()) {
    // Woken by Ctrl-C, by a batch of results, or every kCallerPollMs for progress and the end.
    pollfd p[2] = {{results->wake_fd(), POLLIN, 0}, {config.cancel_fd, POLLIN, 0}};
    const int r = ::poll(p, config.cancel_fd >= 0 ? 2 : 1, kCallerPollMs);
    if (r > 0 && (p[1].revents & POLLIN) && !summary.interrupted) {
      summary.interrupted = true;
      stop_sending.store(true);
    }
    drain(batch, on_result, summary);
    if (Clock::now() >= next_progress) {
      if (on_progress) on_progress(progress_since(start));
      next_progress = Clock::now() + progress_interval;
    }
  }
}

ScanSummary ScanEngine::run(const std::function<void(const ScanResult&)>& on_result,
                            const std::function<void(const ScanProgress&)>& on_progress,
                            std::chrono::milliseconds progress_interval) {
  Impl& m = *impl_;
  ScanSummary summary;
  summary.planned = m.plan.length();
  summary.requested_rate = m.config.rate;
  const auto start = Clock::now();
  std::thread receiver([&m] { m.receive_loop(); });
  std::thread sender([&m] { m.send_loop(); });
  m.serve_caller(on_result, on_progress, progress_interval, start, summary);
  sender.join();
  receiver.join();
  std::vector<QueuedResult> batch;
  m.drain(batch, on_result, summary);
  if (on_progress) on_progress(m.progress_since(start));

  summary.receive_error = m.receive_error;
  // Not one probe left: no port was asked, so none may be called filtered nor a host down.
  if (m.sent.load() == 0 && m.send_errors.load() > 0)
    summary.send_failure = m.first_send_error ? *m.first_send_error : Error{ErrorCode::system, 0, "no probe could be sent"};
  // What never answered gets the no-reply state (not after Ctrl-C, a broken receiver or a
  // refused send: those are simply unknown).
  if (!summary.interrupted && !summary.receive_error && !summary.send_failure) m.report_unanswered(on_result, summary);
  summary.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
  m.fill_counts(summary);
  m.judge_degraded(summary);
  summary.degraded = !summary.degraded_reasons.empty();
  return summary;
}

}  // namespace tcpkit
