// Versioned schema migrations for the embedded store. Append only: a released migration is
// never edited; a change is a new entry. docs/storage.md documents every table.
#include "storage/sqlite_schema.h"

#include <fmt/format.h>

namespace tp::storage::sqlite {
namespace {

const Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE profiles(
  id INTEGER PRIMARY KEY,
  user_id TEXT,                 -- primary userId; NULL while anonymous
  created_at INTEGER NOT NULL   -- ms since epoch
);
CREATE TABLE identities(
  kind INTEGER NOT NULL,        -- 1 userId, 2 anonymousId
  value TEXT NOT NULL,
  profile_id INTEGER NOT NULL,
  PRIMARY KEY(kind, value)
) WITHOUT ROWID;
CREATE INDEX identities_by_profile ON identities(profile_id);
CREATE TABLE traits(
  profile_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,          -- JSON text
  updated INTEGER NOT NULL,     -- event time of the write that set it, ms
  PRIMARY KEY(profile_id, name)
) WITHOUT ROWID;
CREATE TABLE consent(
  profile_id INTEGER NOT NULL,
  category TEXT NOT NULL,
  granted INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  PRIMARY KEY(profile_id, category)
) WITHOUT ROWID;
CREATE TABLE group_memberships(
  profile_id INTEGER NOT NULL,
  group_id TEXT NOT NULL,
  traits TEXT NOT NULL,         -- JSON object
  updated INTEGER NOT NULL,
  PRIMARY KEY(profile_id, group_id)
) WITHOUT ROWID;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY,      -- arrival order
  profile_id INTEGER NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  event TEXT,
  ts INTEGER NOT NULL,          -- event time after skew correction, ms
  received_at INTEGER NOT NULL,
  body TEXT NOT NULL            -- normalised message, JSON
);
CREATE INDEX events_by_profile_time ON events(profile_id, ts);
CREATE TABLE erased_identities(hash BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE api_keys(
  hash BLOB PRIMARY KEY,        -- SHA-256 of the key; the key itself is never stored
  kind TEXT NOT NULL,           -- write | admin
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE settings(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
)sql"},
};

}  // namespace

int latest_version() { return kMigrations[std::size(kMigrations) - 1].version; }

Status migrate(Database& db, Timestamp now) { return migrate(db, now, kMigrations); }

Status migrate(Database& db, Timestamp now, std::span<const Migration> migrations) {
  const int latest = migrations.back().version;
  TP_TRY(db.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"));
  TP_TRY(db.exec("BEGIN IMMEDIATE"));
  auto fail = [&](Status s) {
    (void)db.exec("ROLLBACK");
    return s;
  };
  auto current = db.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!current.is_ok()) return fail(current.status());
  auto has_row = current->step();
  if (!has_row.is_ok()) return fail(has_row.status());
  int version = static_cast<int>(current->column_int(0));
  current->reset();
  if (version > latest)
    return fail(internal_error(fmt::format(
        "the database has schema version {}, newer than this build knows ({}); use a newer touchpoint",
        version, latest)));
  for (const auto& m : migrations) {
    if (m.version <= version) continue;
    Status s = db.exec(m.sql);
    if (!s.is_ok()) return fail(internal_error(fmt::format("migration {} failed: {}", m.version, s.message())));
    auto record = db.prepare("INSERT INTO schema_migrations(version, applied_at) VALUES(?, ?)");
    if (!record.is_ok()) return fail(record.status());
    s = record->bind(1, std::int64_t{m.version}).bind(2, now.time_since_epoch().count()).run();
    if (!s.is_ok()) return fail(s);
  }
  return db.exec("COMMIT");
}

}  // namespace tp::storage::sqlite
