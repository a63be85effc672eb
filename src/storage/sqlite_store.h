// The embedded store: one SQLite database in WAL mode with synchronous=FULL, so that a commit
// that returned is on disk (kill -9 and power loss keep it).
#pragma once

#include <memory>
#include <string>

#include "storage/store.h"

namespace tp::storage {

// How the store writes new events' timeline entries in bulk (docs/storage.md, "Timeline").
struct TimelineOptions {
  size_t generation = 65536;  // recent events, held in memory, that start a flush
  size_t chunk = 1024;        // entries a flush writes per transaction (and twice the events the
                              // transaction adds, so flushes keep up), so no commit waits long
};

// Opens (creating when needed) `<data_dir>/touchpoint.db` and runs pending schema migrations.
// The directory must exist. Errors name the path and what failed.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& data_dir, TimelineOptions timeline = {});

// Schema version this build writes (docs/storage.md lists each version).
int sqlite_schema_version();

}  // namespace tp::storage
