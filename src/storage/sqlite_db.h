// A thin RAII layer over the SQLite C API: a connection and prepared statements that turn
// SQLite result codes into Status. Internal to storage/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tp::storage::sqlite {

// How long a connection waits for another one's lock before it reports SQLITE_BUSY.
inline constexpr int kBusyTimeoutMs = 10000;

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  ~Statement();

  // Binds 1-based parameters. Text and blobs are not copied: the caller keeps them alive until
  // the statement has run (run(), or step() until done).
  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_blob(int i, std::string_view v);
  Statement& bind_null(int i);

  // Runs one step: true when a row is available, false when done.
  Result<bool> step();
  // Runs to completion, expecting no rows.
  Status run();
  // Runs to completion, calling `on_row(*this)` for each row; resets the statement either way.
  template <typename OnRow>
  Status each_row(OnRow&& on_row) {
    while (true) {
      auto row = step();
      if (!row.is_ok() || !*row) {
        reset();
        return row.status();
      }
      on_row(*this);
    }
  }
  void reset();

  std::int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string_view column_text(int i) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  static Result<std::unique_ptr<Database>> open(const std::string& path, Mode mode);
  ~Database();

  Status exec(const char* sql);
  Result<Statement> prepare(std::string_view sql);
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

Status error_status(sqlite3* db, int rc, std::string_view what);

}  // namespace tp::storage::sqlite
