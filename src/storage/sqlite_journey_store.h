// The embedded journey store: `<data_dir>/journeys.db`, SQLite in WAL mode with
// synchronous=FULL, its own schema migrations (docs/storage.md).
#pragma once

#include <memory>
#include <string>

#include "storage/journey_store.h"

namespace tp::storage {

Result<std::unique_ptr<JourneyStore>> open_sqlite_journey_store(const std::string& data_dir);

}  // namespace tp::storage
