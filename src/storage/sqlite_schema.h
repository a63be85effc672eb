#pragma once

#include "base/clock.h"
#include "storage/sqlite_db.h"

namespace tp::storage::sqlite {

// Applies every migration newer than the database's version, in one transaction.
Status migrate(Database& db, Timestamp now);
int latest_version();

}  // namespace tp::storage::sqlite
