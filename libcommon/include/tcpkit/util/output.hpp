#pragma once
// Writers shared by every tool. A result is an ordered JSON object with a "type" field;
// the same object is written as a JSON line, a CSV row or a text-table row.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tcpkit {

using Record = nlohmann::ordered_json;

enum class Format { text, json, csv };

// One object per line; numbers stay numbers. Flushes after each line so pipes see it at once,
// unless flush_each_line is false (bulk listings of 100k+ rows: stdio buffers, flush() at the end).
class JsonLinesWriter {
 public:
  explicit JsonLinesWriter(std::FILE* out, bool flush_each_line = true) : out_(out), flush_each_line_(flush_each_line) {}
  void write(const Record& record);
  void flush() { std::fflush(out_); }

 private:
  std::FILE* out_;
  bool flush_each_line_ = true;
};

// RFC 4180 CSV with a fixed column list; the header row is written before the first row.
// Keys missing from a record give empty cells; nested values are written as JSON text.
class CsvWriter {
 public:
  CsvWriter(std::FILE* out, std::vector<std::string> columns, bool flush_each_line = true)
      : out_(out), columns_(std::move(columns)), flush_each_line_(flush_each_line) {}
  void write(const Record& record);
  // The header alone, once: a table with no row still has its columns (a reader of an empty
  // file fails).
  void write_header();
  void flush() { std::fflush(out_); }

 private:
  std::FILE* out_;
  std::vector<std::string> columns_;
  bool header_written_ = false;
  bool flush_each_line_ = true;
};

// Quote one CSV field when it needs it.
std::string csv_escape(const std::string& field);

// A column-aligned text table, printed all at once (rows are buffered to size the columns).
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells);
  std::string render() const;
  // Within `cells` columns of a terminal: a table wider than that is printed in blocks, one
  // under the other after a blank line, each with the first `keep` columns (the row's name)
  // and as many of the others, in order, as fit (one at least), as R prints a wide data frame.
  std::string render_within(size_t cells, size_t keep) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::vector<std::string>> safe_lines() const;
  static std::string render_columns(const std::vector<std::vector<std::string>>& lines, const std::vector<size_t>& width,
                                    const std::vector<size_t>& columns);
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "1.234" style fixed-point formatting used by the text outputs.
std::string format_fixed(double value, int decimals);

// A duration for people: "0.041 ms" below a millisecond, "41.2 ms" below a second, "5.20 s".
std::string format_duration_ms(double ms);

// "%+9.3f" style: a sign always, the number right-aligned in width cells.
std::string format_signed_fixed(double value, int decimals, size_t width);

}  // namespace tcpkit
