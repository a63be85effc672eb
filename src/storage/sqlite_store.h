// The embedded store: one SQLite database in WAL mode with synchronous=FULL, so that a commit
// that returned is on disk (kill -9 and power loss keep it).
#pragma once

#include <memory>
#include <string>

#include "storage/store.h"

namespace tp::storage {

// Opens (creating when needed) `<data_dir>/touchpoint.db` and runs pending schema migrations.
// The directory must exist. Errors name the path and what failed.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& data_dir);

// Schema version this build writes (docs/storage.md lists each version).
int sqlite_schema_version();

}  // namespace tp::storage
