#pragma once

#include <span>

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

// The profile store's migrations (touchpoint.db).
Status migrate(Database& db, Timestamp now);
int latest_version();

}  // namespace tp::storage::sqlite
