#include "storage/sqlite_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "base/crypto.h"
#include "storage/message_index.h"
#include "storage/recent_events.h"
#include "storage/sqlite_checkpointer.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_schema.h"

namespace tp::storage {
namespace {

using sqlite::Database;
using sqlite::Statement;

std::int64_t ms(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp from_ms(std::int64_t v) { return Timestamp(Millis(v)); }

Status configure(Database& db) {
  TP_TRY(db.exec("PRAGMA journal_mode=WAL"));
  TP_TRY(db.exec("PRAGMA synchronous=FULL"));  // fsync the WAL at every commit
  TP_TRY(db.exec("PRAGMA cache_size=-65536"));  // 64 MiB page cache
  TP_TRY(db.exec("PRAGMA temp_store=MEMORY"));
  TP_TRY(db.exec("PRAGMA mmap_size=268435456"));
  // When the WAL starts over it is written again from its start; the file keeps its size (about
  // the ~200 MB at which the checkpointer asks for a restart, sqlite_checkpointer.h), and is cut
  // back only past 512 MiB, after something held checkpoints up. Cutting it back at every
  // restart (64 MiB, until 2026-12) stalled the writer's next commit for 100-130 ms: ext4 frees
  // and discards the blocks, and every fsync on the disk waits behind that.
  TP_TRY(db.exec("PRAGMA journal_size_limit=536870912"));
  return Status::ok();
}

// How far the on-disk timeline reaches (table timeline_marks; docs/storage.md, "Timeline"), and
// the newest event seq of the snapshot they were read in.
struct TimelineMarks {
  std::int64_t indexed = 0, flush_to = 0, flush_below = 0, last_seq = 0;

  // Every event of `profile` up to this seq is in the timeline; the later ones are recent.
  std::int64_t covered(ProfileId profile) const { return profile < flush_below ? flush_to : indexed; }
  bool flushing() const { return flush_to > indexed; }
};

Result<Statement> prepare_timeline_marks(Database& db) {
  return db.prepare("SELECT indexed, flush_to, flush_below, (SELECT coalesce(max(seq), 0) FROM events) "
                    "FROM timeline_marks");
}

Result<TimelineMarks> read_timeline_marks(Statement& q) {
  auto row = q.step();
  TimelineMarks m;
  if (row.is_ok() && *row) m = {q.column_int(0), q.column_int(1), q.column_int(2), q.column_int(3)};
  q.reset();
  if (!row.is_ok()) return row.status();
  if (!*row) return internal_error("timeline_marks has no row");
  return m;
}

// Events after a seq, with what the recent events need of them, from the covering index.
Result<Statement> prepare_recent_after(Database& db) {
  return db.prepare("SELECT seq, profile_id, ts FROM events INDEXED BY events_arrivals WHERE seq > ? ORDER BY seq");
}

// Adds the events of the connection's snapshot after recent.through(); the caller holds recent.mu.
Status catch_up_recent(Statement& q, RecentEvents& recent) {
  return q.bind(1, recent.through()).each_row([&](const Statement& row) {
    recent.add(row.column_int(1), {row.column_int(2), row.column_int(0)});
  });
}

// Statements of the hot write path, prepared once on the write connection.
struct WriteStatements {
  Statement find_identity, create_profile, primary_user, set_primary_user, link_identity, identities,
      message_id_at, insert_event, upsert_trait, upsert_consent, upsert_group, add_erased,
      set_intake_position, savepoint, release, data_version, timeline_marks, set_timeline_marks, add_timeline,
      recent_after;

  static Result<WriteStatements> prepare(Database& db) {
    WriteStatements s;
    TP_ASSIGN(s.find_identity, db.prepare("SELECT profile_id FROM identities WHERE kind=? AND value=?"));
    TP_ASSIGN(s.create_profile, db.prepare("INSERT INTO profiles(user_id, created_at) VALUES(?, ?)"));
    TP_ASSIGN(s.primary_user, db.prepare("SELECT user_id FROM profiles WHERE id=?"));
    TP_ASSIGN(s.set_primary_user, db.prepare("UPDATE profiles SET user_id=? WHERE id=?"));
    TP_ASSIGN(s.link_identity, db.prepare(
        "INSERT INTO identities(kind, value, profile_id) VALUES(?, ?, ?) "
        "ON CONFLICT(kind, value) DO UPDATE SET profile_id=excluded.profile_id"));
    TP_ASSIGN(s.identities, db.prepare("SELECT kind, value FROM identities WHERE profile_id=? ORDER BY kind, value"));
    TP_ASSIGN(s.message_id_at, db.prepare("SELECT message_id FROM events WHERE seq=?"));
    TP_ASSIGN(s.data_version, db.prepare("PRAGMA data_version"));
    // One per request in a group commit: prepared, not parsed again each time.
    TP_ASSIGN(s.savepoint, db.prepare("SAVEPOINT part"));
    TP_ASSIGN(s.release, db.prepare("RELEASE part"));
    TP_ASSIGN(s.insert_event, db.prepare(
        "INSERT INTO events(profile_id, message_key, message_id, type, event, ts, received_at, body) "
        "VALUES(?,?,?,?,?,?,?,?)"));
    TP_ASSIGN(s.upsert_trait, db.prepare(
        "INSERT INTO traits(profile_id, name, value, updated) VALUES(?,?,?,?) "
        "ON CONFLICT(profile_id, name) DO UPDATE SET value=excluded.value, updated=excluded.updated "
        "WHERE excluded.updated >= traits.updated"));
    TP_ASSIGN(s.upsert_consent, db.prepare(
        "INSERT INTO consent(profile_id, category, granted, updated) VALUES(?,?,?,?) "
        "ON CONFLICT(profile_id, category) DO UPDATE SET granted=excluded.granted, updated=excluded.updated "
        "WHERE excluded.updated >= consent.updated"));
    TP_ASSIGN(s.upsert_group, db.prepare(
        "INSERT INTO group_memberships(profile_id, group_id, traits, updated) VALUES(?,?,?,?) "
        "ON CONFLICT(profile_id, group_id) DO UPDATE SET traits=excluded.traits, updated=excluded.updated "
        "WHERE excluded.updated >= group_memberships.updated"));
    TP_ASSIGN(s.add_erased, db.prepare("INSERT OR IGNORE INTO erased_identities(hash) VALUES(?)"));
    TP_ASSIGN(s.set_intake_position, db.prepare("INSERT OR REPLACE INTO settings(name, value) VALUES('intake_position', ?)"));
    TP_ASSIGN(s.timeline_marks, prepare_timeline_marks(db));
    TP_ASSIGN(s.set_timeline_marks, db.prepare(
        "UPDATE timeline_marks SET indexed=?, flush_to=?, flush_below=? WHERE id=1"));
    TP_ASSIGN(s.add_timeline, db.prepare("INSERT OR IGNORE INTO timeline(profile_id, ts, seq) VALUES(?,?,?)"));
    TP_ASSIGN(s.recent_after, prepare_recent_after(db));
    return s;
  }
};

Result<std::vector<Identity>> read_identities(Statement& q, ProfileId profile) {
  q.bind(1, profile);
  std::vector<Identity> out;
  while (true) {
    auto row = q.step();
    if (!row.is_ok()) return row.status();
    if (!*row) break;
    out.push_back({static_cast<IdentityKind>(q.column_int(0)), std::string(q.column_text(1))});
  }
  q.reset();
  return out;
}

Result<std::optional<ProfileId>> lookup_identity(Statement& q, IdentityKind kind, std::string_view value) {
  q.bind(1, static_cast<std::int64_t>(kind)).bind(2, value);
  auto row = q.step();
  std::optional<ProfileId> out;
  if (row.is_ok() && *row) out = q.column_int(0);
  q.reset();
  if (!row.is_ok()) return row.status();
  return out;
}

// The writer's deduplication index (storage/message_index.h) and how far into `events` it has read.
struct Messages {
  MessageIndex index;
  std::int64_t through = 0;       // every event up to this seq is in the index
  std::int64_t data_version = 0;  // PRAGMA data_version when it was last brought up to date

  // Adds the events after `through` (all of them when the store opens; later, those another
  // connection, such as a `touchpoint import` process, committed).
  Status catch_up(Database& db) {
    TP_ASSIGN(Statement q, db.prepare(
        "SELECT seq, message_key FROM events INDEXED BY events_arrivals WHERE seq > ? ORDER BY seq"));
    q.bind(1, through);
    while (true) {
      TP_ASSIGN(bool row, q.step());
      if (!row) break;
      TP_TRY(index.add(static_cast<std::uint64_t>(q.column_int(1)), q.column_int(0)));
      through = q.column_int(0);
    }
    return Status::ok();
  }
};

// The writer's cache of identity -> profile (docs/storage.md, "Identity cache"). It holds
// committed state only: a transaction bypasses it for the identities it has linked (and for all
// of them after a merge or an erasure, which empty it), so neither a commit nor a rollback has
// anything to fix. Another connection's commit empties it too (begin_write).
struct IdentityCache {
  static constexpr size_t kCapacity = size_t{1} << 17;  // entries; emptied when full
  std::unordered_map<std::string, ProfileId> map;
  std::string key;  // scratch: the kind's byte and the value, reused so that a lookup allocates nothing

  const std::string& key_of(IdentityKind kind, std::string_view value) {
    key.assign(1, static_cast<char>(kind));
    key.append(value);
    return key;
  }
};

// The writer's side of the timeline (docs/storage.md, "Timeline"): the recent events it shares
// with the readers, the marks as last committed, and the profiles of the flush under way.
struct TimelineWriter {
  std::shared_ptr<RecentEvents> recent = std::make_shared<RecentEvents>();
  TimelineOptions options;
  TimelineMarks marks;
  std::vector<ProfileId> order;                          // the flush's profiles, ascending ...
  std::int64_t order_indexed = -1, order_flush_to = -1;  // ... listed for these marks
};

class SqliteWriteTransaction final : public WriteTransaction {
 public:
  SqliteWriteTransaction(Database& db, WriteStatements& s, Messages& messages, TimelineWriter& timeline,
                         IdentityCache& identities, std::unique_lock<std::mutex> lock)
      : db_(db), s_(s), messages_(messages), timeline_(timeline), identities_(identities),
        through_(messages.through), lock_(std::move(lock)) {}
  ~SqliteWriteTransaction() override {
    if (!done_) (void)db_.exec("ROLLBACK");
  }

  Result<std::optional<ProfileId>> find_identity(IdentityKind kind, std::string_view value) override {
    const std::string& key = identities_.key_of(kind, value);
    if (all_linked_ || (!linked_.empty() && linked_.contains(key))) return lookup_identity(s_.find_identity, kind, value);
    if (auto hit = identities_.map.find(key); hit != identities_.map.end()) return std::optional(hit->second);
    TP_ASSIGN(auto found, lookup_identity(s_.find_identity, kind, value));
    if (found) {
      if (identities_.map.size() >= IdentityCache::kCapacity) identities_.map.clear();
      identities_.map.emplace(key, *found);
    }
    return found;
  }

  Result<ProfileId> create_profile(std::string_view user_id, Timestamp now) override {
    if (user_id.empty())
      s_.create_profile.bind_null(1);
    else
      s_.create_profile.bind(1, user_id);
    TP_TRY(s_.create_profile.bind(2, ms(now)).run());
    return db_.last_insert_rowid();
  }

  Result<std::string> primary_user(ProfileId profile) override {
    auto& q = s_.primary_user;
    q.bind(1, profile);
    auto row = q.step();
    std::string out;
    if (row.is_ok() && *row) out = std::string(q.column_text(0));
    q.reset();
    if (!row.is_ok()) return row.status();
    return out;
  }

  Status set_primary_user(ProfileId profile, std::string_view user_id) override {
    return s_.set_primary_user.bind(1, user_id).bind(2, profile).run();
  }

  Status link_identity(IdentityKind kind, std::string_view value, ProfileId profile) override {
    const std::string& key = identities_.key_of(kind, value);
    identities_.map.erase(key);
    linked_.insert(key);
    return s_.link_identity.bind(1, static_cast<std::int64_t>(kind)).bind(2, value).bind(3, profile).run();
  }

  Result<std::vector<Identity>> identities(ProfileId profile) override {
    return read_identities(s_.identities, profile);
  }

  Result<bool> has_message(std::string_view message_id) override {
    auto& q = s_.message_id_at;
    return messages_.index.find(key_of(message_id), [&](std::int64_t seq) -> Result<bool> {
      auto row = q.bind(1, seq).step();
      bool same = row.is_ok() && *row && q.column_text(0) == message_id;
      q.reset();
      if (!row.is_ok()) return row.status();
      return same;
    });
  }

  Status insert_event(const EventRow& e) override {
    auto& q = s_.insert_event;
    const std::uint64_t key = key_of(e.message_id);
    q.bind(1, e.profile).bind(2, static_cast<std::int64_t>(key)).bind(3, e.message_id).bind(4, e.type);
    if (e.event.empty())
      q.bind_null(5);
    else
      q.bind(5, e.event);
    TP_TRY(q.bind(6, ms(e.timestamp)).bind(7, ms(e.received_at)).bind(8, e.body).run());
    // Added now, so that a later message of this transaction sees it; if the transaction rolls
    // back the entry stays and names a row that is not there (or, the seq reused, another
    // message's), which has_message's check turns away.
    const std::int64_t seq = db_.last_insert_rowid();
    through_ = std::max(through_, seq);
    changes_.push_back({Change::kAdd, e.profile, 0, {ms(e.timestamp), seq}});
    return messages_.index.add(key, seq);
  }

  Status upsert_trait(ProfileId p, std::string_view name, std::string_view json, Timestamp t) override {
    return s_.upsert_trait.bind(1, p).bind(2, name).bind(3, json).bind(4, ms(t)).run();
  }

  Status upsert_consent(ProfileId p, std::string_view category, bool granted, Timestamp t) override {
    return s_.upsert_consent.bind(1, p).bind(2, category).bind(3, std::int64_t{granted}).bind(4, ms(t)).run();
  }

  Status upsert_group(ProfileId p, std::string_view group_id, std::string_view traits, Timestamp t) override {
    return s_.upsert_group.bind(1, p).bind(2, group_id).bind(3, traits).bind(4, ms(t)).run();
  }

  Status merge_profiles(ProfileId from, ProfileId into) override {
    TP_TRY(index_now(from));
    // Keyed rows: copy over with last-write-wins, then drop the source rows. The events follow
    // their timeline entries, which hold every event of `from` now.
    static const char* kSql[] = {
        "INSERT INTO traits(profile_id, name, value, updated) SELECT ?2, name, value, updated FROM traits "
        "WHERE profile_id=?1 ON CONFLICT(profile_id, name) DO UPDATE SET value=excluded.value, "
        "updated=excluded.updated WHERE excluded.updated > traits.updated",
        "DELETE FROM traits WHERE profile_id=?1",
        "INSERT INTO consent(profile_id, category, granted, updated) SELECT ?2, category, granted, updated "
        "FROM consent WHERE profile_id=?1 ON CONFLICT(profile_id, category) DO UPDATE SET "
        "granted=excluded.granted, updated=excluded.updated WHERE excluded.updated > consent.updated",
        "DELETE FROM consent WHERE profile_id=?1",
        "INSERT INTO group_memberships(profile_id, group_id, traits, updated) SELECT ?2, group_id, traits, "
        "updated FROM group_memberships WHERE profile_id=?1 ON CONFLICT(profile_id, group_id) DO UPDATE SET "
        "traits=excluded.traits, updated=excluded.updated WHERE excluded.updated > group_memberships.updated",
        "DELETE FROM group_memberships WHERE profile_id=?1",
        "UPDATE OR REPLACE timeline SET profile_id=?2 WHERE profile_id=?1",
        "UPDATE events SET profile_id=?2 WHERE seq IN (SELECT seq FROM timeline WHERE profile_id=?2) AND profile_id=?1",
        "UPDATE identities SET profile_id=?2 WHERE profile_id=?1",
        "DELETE FROM profiles WHERE id=?1",
    };
    forget_identities();
    TP_TRY(run_all(kSql, from, into));
    changes_.push_back({Change::kMove, from, into, {}});
    return Status::ok();
  }

  Status delete_profile(ProfileId profile) override {
    TP_TRY(index_now(profile));
    static const char* kSql[] = {
        "DELETE FROM traits WHERE profile_id=?1",
        "DELETE FROM consent WHERE profile_id=?1",
        "DELETE FROM group_memberships WHERE profile_id=?1",
        "DELETE FROM events WHERE seq IN (SELECT seq FROM timeline WHERE profile_id=?1) AND profile_id=?1",
        "DELETE FROM timeline WHERE profile_id=?1",
        "DELETE FROM identities WHERE profile_id=?1",
        "DELETE FROM profiles WHERE id=?1",
    };
    forget_identities();
    TP_TRY(run_all(kSql, profile, 0));
    changes_.push_back({Change::kErase, profile, 0, {}});
    return Status::ok();
  }

  Status add_erased_hash(std::string_view hash) override { return s_.add_erased.bind_blob(1, hash).run(); }

  Status set_intake_position(std::uint64_t position) override {
    return s_.set_intake_position.bind(1, static_cast<std::int64_t>(position)).run();
  }

  Status savepoint() override {
    changes_at_savepoint_ = changes_.size();
    return s_.savepoint.run();
  }
  Status release_savepoint() override { return s_.release.run(); }
  Status rollback_to_savepoint() override {
    TP_TRY(db_.exec("ROLLBACK TO part"));
    changes_.resize(changes_at_savepoint_);
    return s_.release.run();
  }

  Status commit() override {
    // Not beside a merge or an erasure: the recent events do not show those before the commit.
    if (std::none_of(changes_.begin(), changes_.end(), [](const Change& c) { return c.kind != Change::kAdd; }))
      TP_TRY(flush_some());
    Status s = db_.exec("COMMIT");
    done_ = s.is_ok();
    if (done_) {
      messages_.through = through_;
      publish();
    }
    return s;
  }

 private:
  using Entry = RecentEvents::Entry;

  // What this transaction does to the recent events; they see it once it has committed.
  struct Change {
    enum Kind { kAdd, kMove, kErase } kind;
    ProfileId profile, into;
    Entry entry;
  };

  // The events this transaction added that belong to `profile` now.
  std::vector<Entry> added_to(ProfileId profile) const {
    std::unordered_map<ProfileId, std::vector<Entry>> by;
    for (const Change& c : changes_) {
      if (c.kind == Change::kAdd) {
        by[c.profile].push_back(c.entry);
      } else if (c.kind == Change::kErase) {
        by.erase(c.profile);
      } else if (auto from = by.find(c.profile); from != by.end() && c.profile != c.into) {
        std::vector<Entry> moved = std::move(from->second);
        by.erase(from);
        auto& to = by[c.into];
        to.insert(to.end(), moved.begin(), moved.end());
      }
    }
    auto found = by.find(profile);
    return found == by.end() ? std::vector<Entry>{} : std::move(found->second);
  }

  Status add_timeline(ProfileId profile, const Entry& e) {
    return s_.add_timeline.bind(1, profile).bind(2, e.ts).bind(3, e.seq).run();
  }

  // Writes the profile's entries that are not in the timeline yet into it, so that a merge or an
  // erasure can find all of its events there.
  Status index_now(ProfileId profile) {
    std::vector<Entry> entries;
    {
      RecentEvents& recent = *timeline_.recent;
      std::lock_guard lock(recent.mu);
      entries = recent.entries(profile, recent.floor(), INT64_MAX);
    }
    for (const Entry& e : entries) TP_TRY(add_timeline(profile, e));
    for (const Entry& e : added_to(profile)) TP_TRY(add_timeline(profile, e));
    return Status::ok();
  }

  // Writes the next chunk of the timeline flush, starting one when enough recent events have
  // gathered: the entries of the next profiles in ascending order (docs/storage.md, "Timeline").
  Status flush_some() {
    TimelineMarks m = timeline_.marks;
    RecentEvents& recent = *timeline_.recent;
    std::vector<std::pair<ProfileId, std::vector<Entry>>> chunk;
    bool last_chunk = true;
    {
      std::lock_guard lock(recent.mu);
      if (!m.flushing()) {
        if (recent.size() < timeline_.options.generation) return Status::ok();
        m.flush_to = recent.through();
        m.flush_below = 0;
      }
      if (timeline_.order_indexed != m.indexed || timeline_.order_flush_to != m.flush_to) {
        timeline_.order = recent.profiles(m.indexed, m.flush_to);
        timeline_.order_indexed = m.indexed;
        timeline_.order_flush_to = m.flush_to;
      }
      const auto& order = timeline_.order;
      // Twice what this transaction adds, too, so that flushes keep up with any rate of events.
      const size_t budget = timeline_.options.chunk + 2 * changes_.size();
      size_t entries = 0;
      for (auto it = std::lower_bound(order.begin(), order.end(), m.flush_below); it != order.end(); ++it) {
        if (entries >= budget) {
          m.flush_below = *it;
          last_chunk = false;
          break;
        }
        chunk.emplace_back(*it, recent.entries(*it, m.indexed, m.flush_to));
        entries += chunk.back().second.size();
      }
    }
    for (const auto& [profile, entries] : chunk)
      for (const Entry& e : entries) TP_TRY(add_timeline(profile, e));
    if (last_chunk) m = {m.flush_to, m.flush_to, 0, m.last_seq};
    TP_TRY(s_.set_timeline_marks.bind(1, m.indexed).bind(2, m.flush_to).bind(3, m.flush_below).run());
    flushed_ = m;
    return Status::ok();
  }

  // After the commit: the recent events take this transaction's changes, and drop what a
  // completed flush put in the timeline.
  void publish() {
    RecentEvents& recent = *timeline_.recent;
    std::lock_guard lock(recent.mu);
    for (const Change& c : changes_) {
      switch (c.kind) {
        case Change::kAdd: recent.add(c.profile, c.entry); break;
        case Change::kMove: recent.move(c.profile, c.into); break;
        case Change::kErase: recent.erase(c.profile); break;
      }
    }
    if (flushed_) {
      timeline_.marks = *flushed_;
      if (!flushed_->flushing()) recent.drop_through(flushed_->indexed);
    }
  }

  // A merge or an erasure re-points or removes identities the cache may hold.
  void forget_identities() {
    identities_.map.clear();
    all_linked_ = true;
  }

  static std::uint64_t key_of(std::string_view message_id) {
    return static_cast<std::uint64_t>(sqlite::message_key(message_id));
  }

  template <size_t N>
  Status run_all(const char* (&sqls)[N], std::int64_t a, std::int64_t b) {
    for (const char* sql : sqls) {
      TP_ASSIGN(Statement q, db_.prepare(sql));
      q.bind(1, a);
      if (std::string_view(sql).find("?2") != std::string_view::npos) q.bind(2, b);
      TP_TRY(q.run());
    }
    return Status::ok();
  }

  Database& db_;
  WriteStatements& s_;
  Messages& messages_;
  TimelineWriter& timeline_;
  IdentityCache& identities_;
  std::unordered_set<std::string> linked_;  // identities this transaction wrote: not from the cache
  bool all_linked_ = false;                 // after a merge or an erasure: none from the cache
  std::int64_t through_;  // becomes messages_.through at commit
  std::vector<Change> changes_;
  size_t changes_at_savepoint_ = 0;
  std::optional<TimelineMarks> flushed_;  // the marks this transaction's flush chunk wrote
  std::unique_lock<std::mutex> lock_;
  bool done_ = false;
};

class SqliteReader final : public Reader {
 public:
  static Result<std::unique_ptr<Reader>> open(const std::string& path, std::shared_ptr<RecentEvents> recent) {
    TP_ASSIGN(auto db, Database::open(path, Database::Mode::kReadWrite));
    // No memory map: a reader's connection drops its whole map (munmap, page faults after) at
    // the start of every read transaction that follows a commit, i.e. at every read while
    // events arrive. Without it the journey runner's reads stopped 1,900 munmaps in 5 s (one
    // took 9.6 ms); card reads of a quiet store were no slower (card_bench, p50 0.046 ms).
    TP_TRY(db->exec("PRAGMA mmap_size=0"));
    auto r = std::unique_ptr<SqliteReader>(new SqliteReader(std::move(db), std::move(recent)));
    TP_ASSIGN(r->find_identity_, r->db_->prepare("SELECT profile_id FROM identities WHERE kind=? AND value=?"));
    TP_ASSIGN(r->timeline_, r->db_->prepare(
        "SELECT t.seq, t.ts, e.body FROM timeline t JOIN events e ON e.seq = t.seq "
        "WHERE t.profile_id=? AND (t.ts, t.seq) < (?, ?) ORDER BY t.ts DESC, t.seq DESC LIMIT ?"));
    TP_ASSIGN(r->event_body_, r->db_->prepare("SELECT body FROM events WHERE seq=? AND profile_id=?"));
    TP_ASSIGN(r->marks_, prepare_timeline_marks(*r->db_));
    TP_ASSIGN(r->recent_after_, prepare_recent_after(*r->db_));
    TP_ASSIGN(r->identities_, r->db_->prepare("SELECT kind, value FROM identities WHERE profile_id=? ORDER BY kind, value"));
    TP_ASSIGN(r->events_after_, r->db_->prepare(
        "SELECT e.seq, coalesce(p.user_id, ''), e.body FROM events e LEFT JOIN profiles p ON p.id = e.profile_id "
        "WHERE e.seq > ? ORDER BY e.seq LIMIT ?"));
    TP_ASSIGN(r->profile_user_, r->db_->prepare("SELECT user_id FROM profiles WHERE id=?"));
    TP_ASSIGN(r->traits_, r->db_->prepare("SELECT name, value, updated FROM traits WHERE profile_id=? ORDER BY name"));
    TP_ASSIGN(r->consent_, r->db_->prepare(
        "SELECT category, granted, updated FROM consent WHERE profile_id=? ORDER BY category"));
    TP_ASSIGN(r->groups_, r->db_->prepare(
        "SELECT group_id, traits, updated FROM group_memberships WHERE profile_id=? ORDER BY group_id"));
    TP_ASSIGN(r->seen_, r->db_->prepare(
        "SELECT (SELECT ts FROM timeline WHERE profile_id=?1 ORDER BY ts ASC LIMIT 1), "
        "(SELECT ts FROM timeline WHERE profile_id=?1 ORDER BY ts DESC LIMIT 1)"));
    return std::unique_ptr<Reader>(std::move(r));
  }

  Result<std::int64_t> last_event_seq() override {
    TP_ASSIGN(Statement q, db_->prepare("SELECT coalesce(max(seq), 0) FROM events"));
    TP_ASSIGN(bool row, q.step());
    return row ? q.column_int(0) : 0;
  }

  Result<std::vector<LoggedEvent>> events_after(std::int64_t after, int limit) override {
    std::vector<LoggedEvent> out;
    TP_TRY(events_after_.bind(1, after).bind(2, std::int64_t{limit}).each_row([&](const Statement& row) {
      out.push_back({row.column_int(0), std::string(row.column_text(1)), std::string(row.column_text(2))});
    }));
    return out;
  }

  Result<std::optional<ProfileId>> find_identity(IdentityKind kind, std::string_view value) override {
    return lookup_identity(find_identity_, kind, value);
  }

  Result<ProfileRecord> profile(ProfileId id) override {
    // One read transaction, so the parts agree with each other.
    return in_snapshot<ProfileRecord>([&] { return read_profile(id); });
  }

  Result<std::vector<TimelineEntry>> timeline(ProfileId id, std::optional<TimelineCursor> before,
                                              int limit) override {
    const std::pair<std::int64_t, std::int64_t> cursor{before ? ms(before->timestamp) : INT64_MAX,
                                                        before ? before->seq : INT64_MAX};
    return in_snapshot<std::vector<TimelineEntry>>([&] { return read_timeline(id, cursor, limit); });
  }

  Result<std::optional<ApiKey>> find_key(std::string_view key_hash) override {
    TP_ASSIGN(Statement q, db_->prepare("SELECT kind, name FROM api_keys WHERE hash=?"));
    q.bind_blob(1, key_hash);
    TP_ASSIGN(bool found, q.step());
    if (!found) return std::optional<ApiKey>();
    return std::optional<ApiKey>(ApiKey{q.column_text(0) == "admin" ? KeyKind::kAdmin : KeyKind::kWrite,
                                        std::string(q.column_text(1))});
  }

  Result<std::vector<std::string>> erased_hashes() override {
    TP_ASSIGN(Statement q, db_->prepare("SELECT hash FROM erased_identities"));
    std::vector<std::string> out;
    while (true) {
      TP_ASSIGN(bool row, q.step());
      if (!row) break;
      out.emplace_back(q.column_text(0));
    }
    return out;
  }

  Result<std::uint64_t> intake_position() override {
    TP_ASSIGN(Statement q, db_->prepare("SELECT value FROM settings WHERE name='intake_position'"));
    TP_ASSIGN(bool found, q.step());
    return found ? static_cast<std::uint64_t>(q.column_int(0)) : 0;
  }

 private:
  using Entry = RecentEvents::Entry;

  SqliteReader(std::unique_ptr<Database> db, std::shared_ptr<RecentEvents> recent)
      : db_(std::move(db)), recent_(std::move(recent)) {}

  // Runs `read` (returning Result<std::optional<T>>) in one read transaction, again in a new one
  // while it answers nullopt: a timeline flush completed after its snapshot began.
  template <typename T, typename Read>
  Result<T> in_snapshot(Read&& read) {
    while (true) {
      TP_TRY(db_->exec("BEGIN"));
      auto r = read();
      (void)db_->exec("COMMIT");
      if (!r.is_ok()) return r.status();
      if (*r) return std::move(**r);
    }
  }

  // In a read transaction: calls `use(recent, after, upto)` with the recent events locked and the
  // seqs (after, upto] of the profile's events that this snapshot's timeline does not hold; false
  // when the recent events no longer hold them all (see in_snapshot).
  template <typename Use>
  Result<bool> with_recent(ProfileId id, Use&& use) {
    TP_ASSIGN(TimelineMarks m, read_timeline_marks(marks_));
    std::lock_guard lock(recent_->mu);
    if (recent_->floor() > m.covered(id)) return false;
    if (m.last_seq > recent_->through()) TP_TRY(catch_up_recent(recent_after_, *recent_));
    use(*recent_, m.covered(id), m.last_seq);
    return true;
  }

  Result<std::optional<std::vector<TimelineEntry>>> read_timeline(ProfileId id,
                                                                  std::pair<std::int64_t, std::int64_t> before,
                                                                  int limit) {
    // The newest `limit` recent events before the cursor, then as many from the timeline; the
    // page is the newest `limit` of both.
    std::vector<Entry> candidates;
    TP_ASSIGN(bool current, with_recent(id, [&](const RecentEvents& recent, std::int64_t after, std::int64_t upto) {
      candidates = recent.newest(id, after, upto, {before.first, before.second}, static_cast<size_t>(limit));
    }));
    if (!current) return std::optional<std::vector<TimelineEntry>>();

    std::vector<TimelineEntry> out;
    timeline_.bind(1, id).bind(2, before.first).bind(3, before.second).bind(4, std::int64_t{limit});
    TP_TRY(timeline_.each_row([&](const Statement& row) {
      out.push_back({row.column_int(0), from_ms(row.column_int(1)), std::string(row.column_text(2))});
    }));
    for (const Entry& e : candidates) {
      auto& b = event_body_;
      auto row = b.bind(1, e.seq).bind(2, id).step();
      if (row.is_ok() && *row) out.push_back({e.seq, from_ms(e.ts), std::string(b.column_text(0))});
      b.reset();
      if (!row.is_ok()) return row.status();
    }
    std::sort(out.begin(), out.end(), [](const TimelineEntry& a, const TimelineEntry& b) {
      return std::pair(a.timestamp, a.seq) > std::pair(b.timestamp, b.seq);
    });
    out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq == b.seq; }),
              out.end());
    if (out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
    return std::optional(std::move(out));
  }

  Result<std::optional<ProfileRecord>> read_profile(ProfileId id) {
    // The statements are prepared once (open()); each is reset when its part is read.
    struct Resetting {
      Statement& q;
      ~Resetting() { q.reset(); }
    };
    ProfileRecord p;
    p.id = id;
    {
      Resetting r{profile_user_};
      TP_ASSIGN(bool found, profile_user_.bind(1, id).step());
      if (!found) return not_found("profile not found");
      p.user_id = std::string(profile_user_.column_text(0));
    }
    TP_ASSIGN(p.identities, read_identities(identities_, id));
    {
      Resetting r{traits_};
      traits_.bind(1, id);
      while (true) {
        TP_ASSIGN(bool row, traits_.step());
        if (!row) break;
        p.traits.push_back({std::string(traits_.column_text(0)), std::string(traits_.column_text(1)),
                            from_ms(traits_.column_int(2))});
      }
    }
    {
      Resetting r{consent_};
      consent_.bind(1, id);
      while (true) {
        TP_ASSIGN(bool row, consent_.step());
        if (!row) break;
        p.consent.push_back({std::string(consent_.column_text(0)), consent_.column_int(1) != 0,
                             from_ms(consent_.column_int(2))});
      }
    }
    {
      Resetting r{groups_};
      groups_.bind(1, id);
      while (true) {
        TP_ASSIGN(bool row, groups_.step());
        if (!row) break;
        p.groups.push_back({std::string(groups_.column_text(0)), std::string(groups_.column_text(1)),
                            from_ms(groups_.column_int(2))});
      }
    }
    {
      Resetting r{seen_};
      TP_ASSIGN(bool row, seen_.bind(1, id).step());
      if (row && !seen_.column_is_null(0)) {
        p.first_seen = from_ms(seen_.column_int(0));
        p.last_seen = from_ms(seen_.column_int(1));
      }
    }
    std::optional<std::pair<std::int64_t, std::int64_t>> span;
    TP_ASSIGN(bool current, with_recent(id, [&](const RecentEvents& recent, std::int64_t after, std::int64_t upto) {
      span = recent.time_span(id, after, upto);
    }));
    if (!current) return std::optional<ProfileRecord>();
    if (span) {
      if (!p.first_seen || from_ms(span->first) < *p.first_seen) p.first_seen = from_ms(span->first);
      if (!p.last_seen || from_ms(span->second) > *p.last_seen) p.last_seen = from_ms(span->second);
    }
    return std::optional(std::move(p));
  }

  std::unique_ptr<Database> db_;
  std::shared_ptr<RecentEvents> recent_;
  Statement find_identity_, timeline_, identities_, events_after_;
  Statement profile_user_, traits_, consent_, groups_, seen_;  // read_profile
  Statement event_body_, marks_, recent_after_;                // the recent events
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& data_dir, TimelineOptions timeline) {
    std::string path = data_dir + "/touchpoint.db";
    TP_ASSIGN(auto db, Database::open(path, Database::Mode::kReadWrite));
    TP_TRY(configure(*db));
    TP_TRY(sqlite::migrate(*db, SystemClock().now()));
    TP_ASSIGN(auto statements, WriteStatements::prepare(*db));
    // Checkpoints run on their own thread and connection, not inside the writer's commits.
    TP_TRY(db->exec("PRAGMA wal_autocheckpoint=0"));
    TP_ASSIGN(auto checkpointer, sqlite::Checkpointer::start(path, "tp-checkpoint"));
    checkpointer->watch(*db);
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path, std::move(db), std::move(checkpointer)));
    store->statements_ = std::make_unique<WriteStatements>(std::move(statements));
    store->timeline_.options = timeline;
    TP_TRY(store->load_messages());
    TP_TRY(store->load_recent());
    return std::unique_ptr<Store>(std::move(store));
  }

  Result<std::unique_ptr<WriteTransaction>> begin_write(Sync sync) override {
    std::unique_lock lock(write_mu_);
    if (sync != sync_) {
      // NORMAL in WAL mode: no fsync at commit; the WAL is synced at checkpoints and by the next
      // FULL commit (which makes every earlier commit durable too).
      TP_TRY(db_->exec(sync == Sync::kDurable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
      sync_ = sync;
    }
    checkpointer_->restart_if_asked(*db_);
    TP_TRY(db_->exec("BEGIN IMMEDIATE"));
    // Another connection's commits (an import running beside the server) add events this
    // index has not seen; with the write lock held, none can commit until this one ends.
    TP_ASSIGN(std::int64_t version, data_version());
    if (version != messages_.data_version) {
      identities_.map.clear();
      Status s = messages_.catch_up(*db_);
      if (s.is_ok()) s = catch_up_timeline();
      if (!s.is_ok()) {
        (void)db_->exec("ROLLBACK");
        return s;
      }
      messages_.data_version = version;
    }
    return std::unique_ptr<WriteTransaction>(
        new SqliteWriteTransaction(*db_, *statements_, messages_, timeline_, identities_, std::move(lock)));
  }

  Result<std::unique_ptr<Reader>> open_reader() override { return SqliteReader::open(path_, timeline_.recent); }

  Status create_key(std::string_view key_hash, KeyKind kind, std::string_view name, Timestamp now) override {
    std::lock_guard lock(write_mu_);
    TP_ASSIGN(Statement q, db_->prepare("INSERT INTO api_keys(hash, kind, name, created_at) VALUES(?,?,?,?)"));
    return q.bind_blob(1, key_hash).bind(2, kind == KeyKind::kAdmin ? "admin" : "write").bind(3, name)
        .bind(4, ms(now)).run();
  }

  Result<std::string> secret(std::string_view name) override {
    std::lock_guard lock(write_mu_);
    std::string fresh = random_bytes(32);
    TP_ASSIGN(Statement insert, db_->prepare("INSERT OR IGNORE INTO settings(name, value) VALUES(?, ?)"));
    TP_TRY(insert.bind(1, name).bind_blob(2, fresh).run());
    TP_ASSIGN(Statement q, db_->prepare("SELECT value FROM settings WHERE name=?"));
    q.bind(1, name);
    TP_ASSIGN(bool found, q.step());
    if (!found) return internal_error(fmt::format("setting {} vanished", name));
    return std::string(q.column_text(0));
  }

 private:
  SqliteStore(std::string path, std::unique_ptr<Database> db, std::unique_ptr<sqlite::Checkpointer> checkpointer)
      : path_(std::move(path)), db_(std::move(db)), checkpointer_(std::move(checkpointer)) {}

  // Read at every begin_write: prepared once.
  Result<std::int64_t> data_version() {
    Statement& q = statements_->data_version;
    auto row = q.step();
    std::int64_t version = row.is_ok() && *row ? q.column_int(0) : 0;
    q.reset();
    if (!row.is_ok()) return row.status();
    return version;
  }

  // Reads every event's key into the deduplication index, sized for them at once.
  Status load_messages() {
    std::lock_guard lock(write_mu_);
    TP_ASSIGN(Statement last, db_->prepare("SELECT coalesce(max(seq), 0) FROM events"));
    TP_ASSIGN(bool row, last.step());
    if (row) messages_.index.reserve(static_cast<size_t>(last.column_int(0)));
    TP_ASSIGN(messages_.data_version, data_version());
    return messages_.catch_up(*db_);
  }

  // Fills the recent events with every event the timeline does not hold yet.
  Status load_recent() {
    std::lock_guard lock(write_mu_);
    TP_ASSIGN(timeline_.marks, read_timeline_marks(statements_->timeline_marks));
    std::lock_guard recent_lock(timeline_.recent->mu);
    timeline_.recent->reset(timeline_.marks.indexed);
    return catch_up_recent(statements_->recent_after, *timeline_.recent);
  }

  // Another connection committed: it may have added events and moved the timeline on.
  Status catch_up_timeline() {
    TP_ASSIGN(timeline_.marks, read_timeline_marks(statements_->timeline_marks));
    RecentEvents& recent = *timeline_.recent;
    std::lock_guard lock(recent.mu);
    if (timeline_.marks.indexed > recent.floor()) recent.drop_through(timeline_.marks.indexed);
    return catch_up_recent(statements_->recent_after, recent);
  }

  std::string path_;
  std::mutex write_mu_;                          // one writer at a time
  Sync sync_ = Sync::kDurable;                   // GUARDED_BY(write_mu_): the connection's synchronous mode
  std::unique_ptr<Database> db_;                 // GUARDED_BY(write_mu_)
  std::unique_ptr<WriteStatements> statements_;  // GUARDED_BY(write_mu_)
  Messages messages_;                            // GUARDED_BY(write_mu_)
  TimelineWriter timeline_;                      // GUARDED_BY(write_mu_); its recent events have their own mutex
  IdentityCache identities_;                     // GUARDED_BY(write_mu_)
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // stopped before db_ closes
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& data_dir, TimelineOptions timeline) {
  return SqliteStore::open(data_dir, timeline);
}

int sqlite_schema_version() { return sqlite::latest_version(); }

}  // namespace tp::storage
