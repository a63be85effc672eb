// The raw SQLite limit: the rows Touchpoint stores, inserted straight into the events table of
// a Touchpoint database (same schema and indexes, WAL, synchronous=FULL, the store's pragmas)
// from one thread, one transaction per `rows_per_commit` rows. No parsing, no HTTP, no identity
// resolution, no duplicate check: what is left is SQLite's own cost per row and per fsync.
#pragma once

#include <string>

#include "base/status.h"
#include "rows.h"

namespace tp::bench {

struct SqliteBaselineSpec {
  std::string data_dir;  // an empty directory
  int rows_per_commit = 100;
  double warmup_seconds = 1;
  double seconds = 10;
};

Result<InsertResult> run_sqlite_baseline(const SqliteBaselineSpec& spec, const RowPool& pool);

}  // namespace tp::bench
