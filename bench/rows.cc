#include "rows.h"

#include <fmt/format.h>

#include <charconv>
#include <iterator>

#include "base/time_format.h"
#include "ingest/parser.h"

namespace tp::bench {

Result<RowPool> RowPool::generate(size_t rows, int users, IdStyle ids) {
  constexpr int kBatch = 100;
  RowPool pool;
  pool.ids_ = ids;
  pool.rows_.reserve(rows);
  EventFactory events("pool", users, ids);
  SystemClock clock;
  while (pool.rows_.size() < rows) {
    Timestamp now = clock.now();
    TP_ASSIGN(ingest::Parsed parsed, ingest::parse_batch(events.random_batch_body(kBatch, now), now));
    for (auto& m : parsed.messages) {
      if (pool.rows_.size() == rows) break;
      Row r;
      // "user-0001234" -> profile 1235, as the writer would number one profile per user.
      std::string_view digits = std::string_view(m.user_id).substr(5);
      std::from_chars(digits.data(), digits.data() + digits.size(), r.profile);
      r.profile += 1;
      r.message_id = std::move(m.message_id);
      r.type = ingest::type_name(m.type);
      r.event = std::move(m.event);
      r.body = std::move(m.body);
      r.ts_ms = m.timestamp.time_since_epoch().count();
      r.received_ms = m.received_at.time_since_epoch().count();
      r.ts_iso = format_iso8601(m.timestamp);
      r.received_iso = format_iso8601(m.received_at);
      pool.rows_.push_back(std::move(r));
    }
  }
  return pool;
}

void RowPool::unique_message_id(std::string& out, const Row& row, int worker, std::uint64_t n) const {
  out.clear();
  if (ids_ == IdStyle::kSequential)
    fmt::format_to(std::back_inserter(out), "w{}-{:012d}", worker, n);
  else
    fmt::format_to(std::back_inserter(out), "{}.{}.{}", row.message_id, worker, n);
}

}  // namespace tp::bench
