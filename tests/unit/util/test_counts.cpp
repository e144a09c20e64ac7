#include <catch2/catch.hpp>

#include "tcpkit/util/counts.hpp"
#include "tcpkit/util/reject_counts.hpp"

using namespace tcpkit;

TEST_CASE("counts: singular for one, plural otherwise, thousands separated") {
  CHECK(count_of(1, "probe") == "1 probe");
  CHECK(count_of(0, "probe") == "0 probes");
  CHECK(count_of(2, "reply", "replies") == "2 replies");
  CHECK(count_of(1, "reply", "replies") == "1 reply");
  CHECK(count_of(65535, "port") == "65,535 ports");
  CHECK(with_commas(0) == "0");
  CHECK(with_commas(999) == "999");
  CHECK(with_commas(1000) == "1,000");
  CHECK(with_commas(18446744073709551615ULL) == "18,446,744,073,709,551,615");
}

TEST_CASE("rejected replies read as a total and each reason with a count") {
  tcpkit::RejectCounts counts;
  CHECK(tcpkit::rejected_text(counts).empty());
  counts.add(tcpkit::RejectReason::wrong_ack, 2);
  counts.add(tcpkit::RejectReason::wrong_address);
  CHECK(counts.total() == 3);
  CHECK(tcpkit::rejected_text(counts) == "3 rejected (2 wrong ack, 1 wrong address)");
  tcpkit::RejectCounts more;
  more.add(tcpkit::RejectReason::bad_checksum, 1200);
  counts += more;
  CHECK(tcpkit::rejected_text(counts) == "1,203 rejected (2 wrong ack, 1 wrong address, 1,200 bad checksum)");
  const auto record = tcpkit::rejected_by_record(counts);
  CHECK(record.size() == tcpkit::kRejectReasonCount);
  CHECK(record["wrong_seq"] == 0);
  CHECK(record["bad_checksum"] == 1200);
}
