#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/clock.h"
#include "storage/sqlite_db.h"

namespace tp::storage::sqlite {

struct Migration {
  int version;
  const char* sql;
};

// Applies every migration of `migrations` (ascending versions) newer than the database's
// version, in one transaction.
Status migrate(Database& db, Timestamp now, std::span<const Migration> migrations);

// The events table's deduplication key of a messageId: its 64-bit XXH3 hash (xxHash 0.8, whose
// output is fixed by its specification), as a signed integer.
std::int64_t message_key(std::string_view message_id);

// The profile store's migrations (touchpoint.db): all of them, and applying them (with the SQL
// function `tp_message_key` that migration 2 uses).
std::span<const Migration> store_migrations();
Status migrate(Database& db, Timestamp now);
int latest_version();

}  // namespace tp::storage::sqlite
