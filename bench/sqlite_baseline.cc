#include "sqlite_baseline.h"

#include "raw_sqlite.h"
#include "storage/sqlite_schema.h"
#include "storage/sqlite_store.h"
#include "support.h"

namespace tp::bench {
namespace {

// Creates a Touchpoint database in `data_dir` with the store itself, so the events table and
// its indexes are exactly the store's (whatever migration is current).
Status create_touchpoint_schema(const std::string& data_dir) {
  TP_ASSIGN(auto store, storage::open_sqlite_store(data_dir));
  return Status::ok();
}

Status insert_row(RawSqlite& db, sqlite3_stmt* q, const Row& row, const std::string& message_id) {
  sqlite3_bind_int64(q, 1, row.profile);
  sqlite3_bind_int64(q, 2, storage::sqlite::message_key(message_id));
  sqlite3_bind_text(q, 3, message_id.data(), static_cast<int>(message_id.size()), SQLITE_STATIC);
  sqlite3_bind_text(q, 4, row.type.data(), static_cast<int>(row.type.size()), SQLITE_STATIC);
  sqlite3_bind_text(q, 5, row.event.data(), static_cast<int>(row.event.size()), SQLITE_STATIC);
  sqlite3_bind_int64(q, 6, row.ts_ms);
  sqlite3_bind_int64(q, 7, row.received_ms);
  sqlite3_bind_text(q, 8, row.body.data(), static_cast<int>(row.body.size()), SQLITE_STATIC);
  int rc = sqlite3_step(q);
  sqlite3_reset(q);
  return rc == SQLITE_DONE ? Status::ok() : db.error(rc, "insert event");
}

}  // namespace

Result<InsertResult> run_sqlite_baseline(const SqliteBaselineSpec& spec, const RowPool& pool) {
  TP_TRY(create_touchpoint_schema(spec.data_dir));
  TP_ASSIGN(auto db, RawSqlite::open(spec.data_dir + "/touchpoint.db", false));
  TP_TRY(db->configure_like_touchpoint());
  TP_ASSIGN(StatementPtr insert,
            db->prepare("INSERT INTO events(profile_id, message_key, message_id, type, event, ts, received_at, body) "
                        "VALUES(?,?,?,?,?,?,?,?)"));

  InsertResult result;
  std::string message_id;
  std::uint64_t n = 0;
  auto written_before = device_write_bytes(spec.data_dir);
  auto start = SteadyClock::now();
  while (!interrupted() && seconds_since(start) < spec.warmup_seconds + spec.seconds) {
    auto began = SteadyClock::now();
    TP_TRY(db->exec("BEGIN"));
    for (int i = 0; i < spec.rows_per_commit; ++i, ++n) {
      const Row& row = pool.at(n);
      pool.unique_message_id(message_id, row, 0, n);
      TP_TRY(insert_row(*db, insert.get(), row, message_id));
    }
    TP_TRY(db->exec("COMMIT"));
    result.total_rows += spec.rows_per_commit;
    if (seconds_since(start) >= spec.warmup_seconds) {
      result.commit_latencies_us.push_back(
          std::chrono::duration<double, std::micro>(SteadyClock::now() - began).count());
      result.rows += spec.rows_per_commit;
      ++result.commits;
    }
  }
  result.seconds = std::max(0.0, seconds_since(start) - spec.warmup_seconds);
  result.bytes_written = device_write_bytes(spec.data_dir) - written_before;
  return result;
}

}  // namespace tp::bench
