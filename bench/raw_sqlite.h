// A direct SQLite connection for the baselines: the C API with RAII and Status, nothing of
// Touchpoint's storage layer in between (that layer is what the baselines are compared with).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tp::bench {

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

class RawSqlite {
 public:
  static Result<std::unique_ptr<RawSqlite>> open(const std::string& path, bool read_only);
  ~RawSqlite();
  RawSqlite(const RawSqlite&) = delete;
  RawSqlite& operator=(const RawSqlite&) = delete;

  Status exec(const char* sql);
  Result<StatementPtr> prepare(std::string_view sql);
  // An error Status naming `what` and SQLite's message for `rc`.
  Status error(int rc, std::string_view what) const;

  // The pragmas the Touchpoint store sets on its connections (storage/sqlite_store.cc), so that
  // a baseline differs from Touchpoint only in the work it skips.
  Status configure_like_touchpoint();

 private:
  explicit RawSqlite(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace tp::bench
