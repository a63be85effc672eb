// The storage interface: everything Touchpoint keeps, independent of the database behind it.
//
// SQLite (sqlite_store.h) is the embedded default; a PostgreSQL implementation of the same
// schema follows (docs/storage.md). Nothing SQLite-specific appears in this header.
//
// Threading: a Store is thread-safe. At most one WriteTransaction exists at a time (begin_write
// blocks until the previous one is gone); it and its methods belong to the thread that began it.
// A Reader belongs to one thread at a time; a ReaderPool lends them out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "storage/sync.h"

namespace tp::storage {

using ProfileId = std::int64_t;

enum class IdentityKind { kUser = 1, kAnonymous = 2 };

struct Identity {
  IdentityKind kind;
  std::string value;
};

struct EventRow {
  ProfileId profile = 0;
  std::string_view message_id;
  std::string_view type;
  std::string_view event;
  Timestamp timestamp{};
  Timestamp received_at{};
  std::string_view body;  // the message as JSON text
};

struct TraitRow {
  std::string name;
  std::string json;  // the value as JSON text
  Timestamp updated{};
};

struct ConsentRow {
  std::string category;
  bool granted = false;
  Timestamp updated{};
};

struct GroupRow {
  std::string group_id;
  std::string traits_json;  // the group's traits as a JSON object
  Timestamp updated{};
};

// Position in a timeline (newest first): entries strictly older than this.
struct TimelineCursor {
  Timestamp timestamp{};
  std::int64_t seq = 0;
};

struct TimelineEntry {
  std::int64_t seq = 0;
  Timestamp timestamp{};
  std::string body;
};

// An event as stored, for consumers that follow the event log in arrival order (journeys).
struct LoggedEvent {
  std::int64_t seq = 0;
  std::string user_id;  // the profile's primary userId now; "" while anonymous
  std::string body;     // the message as JSON text
};

struct ProfileRecord {
  ProfileId id = 0;
  std::string user_id;  // the primary userId; "" for an anonymous profile
  std::vector<Identity> identities;
  std::vector<TraitRow> traits;
  std::vector<ConsentRow> consent;
  std::vector<GroupRow> groups;
  std::optional<Timestamp> first_seen, last_seen;
  std::int64_t event_count = 0;
};

enum class KeyKind { kWrite, kAdmin };

struct ApiKey {
  KeyKind kind;
  std::string name;
};

// One atomic, durable unit of writes. Destroying it without commit() rolls back.
class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;

  virtual Result<std::optional<ProfileId>> find_identity(IdentityKind kind, std::string_view value) = 0;
  virtual Result<ProfileId> create_profile(std::string_view user_id, Timestamp now) = 0;
  // "" when the profile is anonymous.
  virtual Result<std::string> primary_user(ProfileId profile) = 0;
  virtual Status set_primary_user(ProfileId profile, std::string_view user_id) = 0;
  // Links (kind, value) to `profile`, replacing any earlier link.
  virtual Status link_identity(IdentityKind kind, std::string_view value, ProfileId profile) = 0;
  virtual Result<std::vector<Identity>> identities(ProfileId profile) = 0;

  virtual Result<bool> has_message(std::string_view message_id) = 0;
  virtual Status insert_event(const EventRow& event) = 0;

  // Per-key last-write-wins by event time: a write older than the stored one is ignored.
  virtual Status upsert_trait(ProfileId profile, std::string_view name, std::string_view json, Timestamp t) = 0;
  virtual Status upsert_consent(ProfileId profile, std::string_view category, bool granted, Timestamp t) = 0;
  virtual Status upsert_group(ProfileId profile, std::string_view group_id, std::string_view traits_json,
                              Timestamp t) = 0;

  // Moves identities, events, traits, consent and groups of `from` into `into` (per key, the
  // later write wins) and deletes `from`.
  virtual Status merge_profiles(ProfileId from, ProfileId into) = 0;
  // Deletes the profile and everything linked to it.
  virtual Status delete_profile(ProfileId profile) = 0;
  virtual Status add_erased_hash(std::string_view hash) = 0;
  // How far the intake log (intake_log.h) has been applied; committed with the writes it covers.
  virtual Status set_intake_position(std::uint64_t position) = 0;

  // Nested scope: a failed part of a transaction can be undone without losing the rest.
  virtual Status savepoint() = 0;
  virtual Status release_savepoint() = 0;
  virtual Status rollback_to_savepoint() = 0;

  // Durable when it returns ok: a crash after this loses nothing of the transaction.
  virtual Status commit() = 0;
};

class Reader {
 public:
  virtual ~Reader() = default;
  virtual Result<std::optional<ProfileId>> find_identity(IdentityKind kind, std::string_view value) = 0;
  virtual Result<ProfileRecord> profile(ProfileId id) = 0;
  // Newest first, at most `limit` entries older than `before` (all when nullopt).
  virtual Result<std::vector<TimelineEntry>> timeline(ProfileId id, std::optional<TimelineCursor> before,
                                                      int limit) = 0;
  virtual Result<std::optional<ApiKey>> find_key(std::string_view key_hash) = 0;
  // At most `limit` events with seq > `after`, in seq order.
  virtual Result<std::vector<LoggedEvent>> events_after(std::int64_t after, int limit) = 0;
  // The seq of the newest event; 0 when there is none.
  virtual Result<std::int64_t> last_event_seq() = 0;
  virtual Result<std::vector<std::string>> erased_hashes() = 0;
  // The last set_intake_position() committed; 0 when none.
  virtual Result<std::uint64_t> intake_position() = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  using Sync = storage::Sync;  // storage/sync.h
  virtual Result<std::unique_ptr<WriteTransaction>> begin_write(Sync sync = Sync::kDurable) = 0;
  virtual Result<std::unique_ptr<Reader>> open_reader() = 0;

  virtual Status create_key(std::string_view key_hash, KeyKind kind, std::string_view name, Timestamp now) = 0;
  // A random secret of this data directory, created on first use (e.g. the salt of erased ids).
  virtual Result<std::string> secret(std::string_view name) = 0;
};

// Idle readers kept for reuse, so a request does not open a database connection.
// Thread-safe.
class ReaderPool {
 public:
  explicit ReaderPool(Store& store) : store_(store) {}
  // Lends a reader to `use` on the calling thread.
  Status with_reader(const std::function<Status(Reader&)>& use);

 private:
  Store& store_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Reader>> idle_;  // GUARDED_BY(mu_)
};

}  // namespace tp::storage
