// Versioned schema migrations for the embedded store. Append only: a released migration is
// never edited; a change is a new entry. docs/storage.md documents every table.
#include "storage/sqlite_schema.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "base/log.h"

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
    // Deduplication by a 64-bit key of the messageId instead of a UNIQUE index on its text: the
    // index is about a third of the size, so random (UUID) ids land on fewer pages, and probes
    // compare integers. The text stays in the row for the check on a match (docs/storage.md,
    // "Deduplication").
    {2, R"sql(
CREATE TABLE events_v2(
  seq INTEGER PRIMARY KEY,
  profile_id INTEGER NOT NULL,
  message_key INTEGER NOT NULL, -- tp_message_key(message_id)
  message_id TEXT NOT NULL,
  type TEXT NOT NULL,
  event TEXT,
  ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
INSERT INTO events_v2(seq, profile_id, message_key, message_id, type, event, ts, received_at, body)
  SELECT seq, profile_id, tp_message_key(message_id), message_id, type, event, ts, received_at, body FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_by_profile_time ON events(profile_id, ts);
CREATE INDEX events_by_message_key ON events(message_key);
)sql"},
    // Deduplication in memory (storage/message_index.h) instead of through the index on
    // message_key: with random ids every new event dirtied a random page of it. The keys are read
    // at start-up in seq order from a covering index that new events append to.
    {3, R"sql(
DROP INDEX events_by_message_key;
CREATE INDEX events_message_keys ON events(seq, message_key);
)sql"},
    // The timeline in a table of its own, written in bulk (storage/recent_events.h,
    // docs/storage.md "Timeline") instead of an index on events that every new event dirtied a
    // random page of. timeline_marks says how far it reaches. The covering index on arrival order
    // also gives each event's profile and time, for filling the recent events at start-up.
    {4, R"sql(
CREATE TABLE timeline(
  profile_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(profile_id, ts, seq)
) WITHOUT ROWID;
INSERT INTO timeline(profile_id, ts, seq) SELECT profile_id, ts, seq FROM events ORDER BY profile_id, ts, seq;
DROP INDEX events_by_profile_time;
DROP INDEX events_message_keys;
CREATE INDEX events_arrivals ON events(seq, message_key, profile_id, ts);
CREATE TABLE timeline_marks(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  indexed INTEGER NOT NULL,      -- every event up to this seq is in timeline
  flush_to INTEGER NOT NULL,     -- a flush under way: events up to this seq ...
  flush_below INTEGER NOT NULL   -- ... of the profiles below this id are in timeline too
);
INSERT INTO timeline_marks(id, indexed, flush_to, flush_below)
  SELECT 1, coalesce(max(seq), 0), coalesce(max(seq), 0), 0 FROM events;
)sql"},
};

void message_key_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  int size = sqlite3_value_bytes(argv[0]);
  sqlite3_result_int64(ctx, message_key(std::string_view(text ? text : "", static_cast<size_t>(size))));
}

}  // namespace

std::int64_t message_key(std::string_view message_id) {
  return static_cast<std::int64_t>(XXH3_64bits(message_id.data(), message_id.size()));
}

std::span<const Migration> store_migrations() { return kMigrations; }

int latest_version() { return kMigrations[std::size(kMigrations) - 1].version; }

Status migrate(Database& db, Timestamp now) {
  int rc = sqlite3_create_function(db.handle(), "tp_message_key", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                   message_key_function, nullptr, nullptr);
  if (rc != SQLITE_OK) return internal_error(fmt::format("tp_message_key: {}", sqlite3_errstr(rc)));
  return migrate(db, now, kMigrations);
}

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
  if (version > 0 && version < latest)
    log::info("upgrading the database schema; this can take a while",
              {{"database", sqlite3_db_filename(db.handle(), "main")}, {"from", std::to_string(version)},
               {"to", std::to_string(latest)}});
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
