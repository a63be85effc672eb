#include "raw_sqlite.h"

#include <fmt/format.h>

namespace tp::bench {

Result<std::unique_ptr<RawSqlite>> RawSqlite::open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = internal_error(fmt::format("cannot open {}: {}", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, 10000);
  return std::unique_ptr<RawSqlite>(new RawSqlite(db));
}

RawSqlite::~RawSqlite() { sqlite3_close_v2(db_); }

Status RawSqlite::error(int rc, std::string_view what) const {
  return internal_error(fmt::format("{}: {} (SQLite code {})", what, sqlite3_errmsg(db_), rc));
}

Status RawSqlite::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::ok() : error(rc, sql);
}

Result<StatementPtr> RawSqlite::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, fmt::format("prepare {}", sql));
  return StatementPtr(stmt);
}

Status RawSqlite::configure_like_touchpoint() {
  TP_TRY(exec("PRAGMA journal_mode=WAL"));
  TP_TRY(exec("PRAGMA synchronous=FULL"));
  TP_TRY(exec("PRAGMA cache_size=-65536"));
  TP_TRY(exec("PRAGMA temp_store=MEMORY"));
  TP_TRY(exec("PRAGMA mmap_size=268435456"));
  return Status::ok();
}

}  // namespace tp::bench
