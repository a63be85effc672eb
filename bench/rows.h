// The event rows Touchpoint stores for generated traffic, for the database baselines.
//
// Events come from EventFactory and go through the real parser, so `body` is exactly the
// normalised JSON the timeline keeps; profile ids are what the writer would assign (one
// profile per userId). The baselines cycle through the pool, giving each use a fresh messageId.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "events.h"

namespace tp::bench {

struct Row {
  std::int64_t profile = 0;
  std::string message_id, type, event, body;
  std::int64_t ts_ms = 0, received_ms = 0;
  std::string ts_iso, received_iso;  // the same instants as text, for PostgreSQL's timestamptz
};

// Per-insert results of a baseline run.
struct InsertResult {
  double seconds = 0;     // measured window
  long long rows = 0;     // committed within the window
  long long commits = 0;  // transactions committed within the window
  long long total_rows = 0;  // warm-up included
  std::uint64_t bytes_written = 0;  // to storage, warm-up included (0: not known)
  std::vector<double> commit_latencies_us;

  double rows_per_second() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

class RowPool {
 public:
  static Result<RowPool> generate(size_t rows, int users, IdStyle ids);

  size_t size() const { return rows_.size(); }
  const Row& at(std::uint64_t n) const { return rows_[n % rows_.size()]; }
  // The messageId of the n-th row written by `worker`: unique across workers and cycles, and
  // random or sequential as the pool's ids are.
  void unique_message_id(std::string& out, const Row& row, int worker, std::uint64_t n) const;

 private:
  std::vector<Row> rows_;
  IdStyle ids_ = IdStyle::kUuid;
};

}  // namespace tp::bench
