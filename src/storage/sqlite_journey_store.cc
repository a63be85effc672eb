#include "storage/sqlite_journey_store.h"

#include <fmt/format.h>

#include <mutex>

#include "storage/sqlite_checkpointer.h"
#include "storage/sqlite_db.h"
#include "storage/sqlite_schema.h"

namespace tp::storage {
namespace {

using sqlite::Database;
using sqlite::Statement;

std::int64_t ms(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp from_ms(std::int64_t v) { return Timestamp(Millis(v)); }

// Append only, like the profile store's migrations (docs/storage.md).
const sqlite::Migration kJourneyMigrations[] = {
    {1, R"sql(
CREATE TABLE journey_versions(
  journey TEXT NOT NULL,
  version TEXT NOT NULL,         -- content hash of the file
  file TEXT NOT NULL,
  source TEXT NOT NULL,          -- the file's text, so instances can finish on their version
  first_seen INTEGER NOT NULL,
  PRIMARY KEY(journey, version)
) WITHOUT ROWID;
CREATE TABLE people(
  user_id TEXT PRIMARY KEY,
  state TEXT NOT NULL            -- JSON: traits, relevant history, sends, entered journeys, dates
) WITHOUT ROWID;
CREATE TABLE instances(
  id INTEGER PRIMARY KEY,
  journey TEXT NOT NULL,
  user_id TEXT NOT NULL,
  step TEXT NOT NULL,            -- the current step
  due INTEGER,                   -- the pending timer, ms; NULL when none
  state TEXT NOT NULL            -- JSON, as the engine serialises it
);
CREATE INDEX instances_by_user ON instances(user_id);
CREATE INDEX instances_by_journey ON instances(journey, step);
CREATE TABLE effects(            -- the transactional outbox
  seq INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,      -- idempotency key: instance:step:n
  instance INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  journey TEXT NOT NULL,
  step TEXT NOT NULL,
  action TEXT NOT NULL,
  time INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX effects_by_user ON effects(user_id);
CREATE TABLE tasks(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,      -- the effect's key
  user_id TEXT NOT NULL,
  journey TEXT NOT NULL,
  step TEXT NOT NULL,
  template TEXT NOT NULL,
  assignee TEXT NOT NULL,
  created INTEGER NOT NULL,
  done INTEGER                   -- NULL while open
);
CREATE INDEX tasks_open ON tasks(assignee, id) WHERE done IS NULL;
CREATE INDEX tasks_by_user ON tasks(user_id);
CREATE TABLE step_counts(
  journey TEXT NOT NULL,
  step TEXT NOT NULL,
  metric TEXT NOT NULL,          -- entered, sent, suppressed, task, update, webhook, goal, exited
  count INTEGER NOT NULL,
  PRIMARY KEY(journey, step, metric)
) WITHOUT ROWID;
CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql"},
    {2, R"sql(
CREATE TABLE deliveries(
  key TEXT PRIMARY KEY,          -- the effect's idempotency key
  effect_seq INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  journey TEXT NOT NULL,
  step TEXT NOT NULL,
  channel TEXT NOT NULL,         -- email | sms | webhook
  template TEXT NOT NULL,
  status TEXT NOT NULL,          -- pending | sending | delivered | failed
  attempts INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  provider_id TEXT NOT NULL,
  last_error TEXT NOT NULL,
  updated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries(status, next_attempt);
CREATE INDEX deliveries_by_user ON deliveries(user_id);
)sql"},
    {3, R"sql(
-- Delivery receipts name the message by the provider's id (an SMS's MessageSid).
CREATE INDEX deliveries_by_provider_id ON deliveries(channel, provider_id) WHERE provider_id != '';
)sql"},
    {4, R"sql(
-- Whose each instance is, kept after it finishes (from its `enter` effect). Erasure finds a
-- person's outbox rows through it, by their keys' instance prefix, so that the outbox and the
-- instances need no index by user: their inserts and deletes landed on random pages, most of
-- what a batch of due steps wrote. The number of instances at each step is a counter (metric
-- `waiting`) that the runner keeps in the same transaction, instead of an index to count them.
-- An ended instance is listed in finished_instances (an append) and is no longer loaded; its
-- row is deleted later, when the runner has nothing else to do (a delete from the middle of the
-- table costs more than the rest of the step).
CREATE TABLE finished_instances(id INTEGER PRIMARY KEY);
CREATE TABLE person_instances(
  user_id TEXT NOT NULL,
  instance INTEGER NOT NULL,
  PRIMARY KEY(user_id, instance)
) WITHOUT ROWID;
INSERT OR IGNORE INTO person_instances SELECT user_id, instance FROM effects;
INSERT OR IGNORE INTO person_instances SELECT user_id, id FROM instances;
INSERT INTO step_counts(journey, step, metric, count)
  SELECT journey, step, 'waiting', count(*) FROM instances GROUP BY journey, step;
DROP INDEX effects_by_user;
DROP INDEX instances_by_user;
DROP INDEX instances_by_journey;
)sql"},
};

// Steps a statement to the end, calling `row` for each result row.
template <typename F>
Status each_row(Statement& q, F&& row) {
  while (true) {
    auto has = q.step();
    if (!has.is_ok()) {
      q.reset();
      return has.status();
    }
    if (!*has) break;
    row(q);
  }
  q.reset();
  return Status::ok();
}

TaskRow read_task(const Statement& q) {
  TaskRow t;
  t.id = q.column_int(0);
  t.key = q.column_text(1);
  t.user_id = q.column_text(2);
  t.journey = q.column_text(3);
  t.step = q.column_text(4);
  t.template_name = q.column_text(5);
  t.assignee = q.column_text(6);
  t.created = from_ms(q.column_int(7));
  if (!q.column_is_null(8)) t.done = from_ms(q.column_int(8));
  return t;
}

constexpr const char* kTaskColumns = "id, key, user_id, journey, step, template, assignee, created, done";

constexpr const char* kDeliveryColumns =
    "d.key, d.effect_seq, d.user_id, d.journey, d.step, d.channel, d.template, d.status, d.attempts, d.next_attempt, "
    "d.provider_id, d.last_error, d.updated";

DeliveryRow read_delivery(const Statement& q) {
  DeliveryRow d;
  d.key = q.column_text(0);
  d.effect_seq = q.column_int(1);
  d.user_id = q.column_text(2);
  d.journey = q.column_text(3);
  d.step = q.column_text(4);
  d.channel = q.column_text(5);
  d.template_name = q.column_text(6);
  d.status = q.column_text(7);
  d.attempts = static_cast<int>(q.column_int(8));
  d.next_attempt = from_ms(q.column_int(9));
  d.provider_id = q.column_text(10);
  d.last_error = q.column_text(11);
  d.updated = from_ms(q.column_int(12));
  return d;
}

struct Statements {
  Statement put_version, put_person, put_instance, finish_instance, add_effect, add_person_instance, add_task,
      add_count, set_meta, put_delivery;
  Statement person_instances, delete_instance_effects, delete_instance_row, delete_finished, finished_ids,
      delete_user[4];

  static Result<Statements> prepare(Database& db) {
    Statements s;
    TP_ASSIGN(s.put_version, db.prepare(
        "INSERT OR IGNORE INTO journey_versions(journey, version, file, source, first_seen) VALUES(?,?,?,?,?)"));
    TP_ASSIGN(s.put_person, db.prepare("INSERT OR REPLACE INTO people(user_id, state) VALUES(?,?)"));
    TP_ASSIGN(s.put_instance, db.prepare(
        "INSERT OR REPLACE INTO instances(id, journey, user_id, step, due, state) VALUES(?,?,?,?,?,?)"));
    TP_ASSIGN(s.finish_instance, db.prepare("INSERT OR IGNORE INTO finished_instances(id) VALUES(?)"));
    TP_ASSIGN(s.delete_instance_row, db.prepare("DELETE FROM instances WHERE id=?"));
    TP_ASSIGN(s.delete_finished, db.prepare("DELETE FROM finished_instances WHERE id=?"));
    TP_ASSIGN(s.finished_ids, db.prepare("SELECT id FROM finished_instances ORDER BY id LIMIT ?"));
    TP_ASSIGN(s.add_effect, db.prepare(
        "INSERT OR IGNORE INTO effects(key, instance, user_id, journey, step, action, time, body) VALUES(?,?,?,?,?,?,?,?)"));
    TP_ASSIGN(s.add_person_instance,
              db.prepare("INSERT OR IGNORE INTO person_instances(user_id, instance) VALUES(?,?)"));
    TP_ASSIGN(s.add_task, db.prepare(
        "INSERT OR IGNORE INTO tasks(key, user_id, journey, step, template, assignee, created) VALUES(?,?,?,?,?,?,?)"));
    TP_ASSIGN(s.add_count, db.prepare(
        "INSERT INTO step_counts(journey, step, metric, count) VALUES(?,?,?,?) "
        "ON CONFLICT(journey, step, metric) DO UPDATE SET count = count + excluded.count"));
    TP_ASSIGN(s.set_meta, db.prepare("INSERT OR REPLACE INTO meta(name, value) VALUES(?,?)"));
    TP_ASSIGN(s.put_delivery, db.prepare(
        "INSERT OR REPLACE INTO deliveries(key, effect_seq, user_id, journey, step, channel, template, status, attempts, "
        "next_attempt, provider_id, last_error, updated) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    TP_ASSIGN(s.person_instances, db.prepare("SELECT instance FROM person_instances WHERE user_id=?"));
    // An instance's outbox rows are the keys "<instance>:..." (';' follows ':'), on the key's index.
    TP_ASSIGN(s.delete_instance_effects,
              db.prepare("DELETE FROM effects WHERE key >= ?1 || ':' AND key < ?1 || ';'"));
    const char* tables[] = {"people", "person_instances", "tasks", "deliveries"};
    for (int i = 0; i < 4; ++i) {
      TP_ASSIGN(s.delete_user[i], db.prepare(fmt::format("DELETE FROM {} WHERE user_id=?", tables[i])));
    }
    return s;
  }
};

class SqliteJourneyWrite final : public JourneyWrite {
 public:
  SqliteJourneyWrite(Database& db, Statements& s, std::unique_lock<std::mutex> lock)
      : db_(db), s_(s), lock_(std::move(lock)) {}
  ~SqliteJourneyWrite() override {
    if (!done_) (void)db_.exec("ROLLBACK");
  }

  Status put_version(const JourneyVersionRow& r) override {
    return s_.put_version.bind(1, r.journey).bind(2, r.version).bind(3, r.file).bind(4, r.source).bind(5, ms(r.first_seen)).run();
  }
  Status put_person(std::string_view user_id, std::string_view state) override {
    return s_.put_person.bind(1, user_id).bind(2, state).run();
  }
  Status put_instance(std::uint64_t id, std::string_view journey, std::string_view user_id, std::string_view step,
                      std::optional<Timestamp> due, std::string_view state) override {
    auto& q = s_.put_instance;
    q.bind(1, static_cast<std::int64_t>(id)).bind(2, journey).bind(3, user_id).bind(4, step).bind(6, state);
    if (due) q.bind(5, ms(*due));
    else q.bind_null(5);
    return q.run();
  }
  Status delete_instance(std::uint64_t id) override { return s_.finish_instance.bind(1, static_cast<std::int64_t>(id)).run(); }
  Status delete_user(std::string_view user_id) override {
    std::vector<std::int64_t> instances;
    TP_TRY(each_row(s_.person_instances.bind(1, user_id), [&](const Statement& r) { instances.push_back(r.column_int(0)); }));
    for (std::int64_t id : instances) {
      TP_TRY(s_.delete_instance_effects.bind(1, std::to_string(id)).run());
      TP_TRY(s_.delete_instance_row.bind(1, id).run());
    }
    for (auto& q : s_.delete_user) TP_TRY(q.bind(1, user_id).run());
    return Status::ok();
  }
  Result<bool> add_effect(const OutboxRow& r) override {
    TP_TRY(s_.add_effect.bind(1, r.key).bind(2, static_cast<std::int64_t>(r.instance)).bind(3, r.user_id).bind(4, r.journey)
               .bind(5, r.step).bind(6, r.action).bind(7, ms(r.time)).bind(8, r.body).run());
    bool fresh = db_.changes() > 0;
    if (fresh && r.action == "enter")
      TP_TRY(s_.add_person_instance.bind(1, r.user_id).bind(2, static_cast<std::int64_t>(r.instance)).run());
    return fresh;
  }
  Status add_task(const TaskRow& r) override {
    return s_.add_task.bind(1, r.key).bind(2, r.user_id).bind(3, r.journey).bind(4, r.step).bind(5, r.template_name)
        .bind(6, r.assignee).bind(7, ms(r.created)).run();
  }
  Status add_count(std::string_view journey, std::string_view step, std::string_view metric, std::int64_t n) override {
    return s_.add_count.bind(1, journey).bind(2, step).bind(3, metric).bind(4, n).run();
  }
  Status set_meta(std::string_view name, std::int64_t value) override { return s_.set_meta.bind(1, name).bind(2, value).run(); }
  Status put_delivery(const DeliveryRow& r) override {
    return s_.put_delivery.bind(1, r.key).bind(2, r.effect_seq).bind(3, r.user_id).bind(4, r.journey).bind(5, r.step)
        .bind(6, r.channel).bind(7, r.template_name).bind(8, r.status).bind(9, std::int64_t{r.attempts})
        .bind(10, ms(r.next_attempt)).bind(11, r.provider_id).bind(12, r.last_error).bind(13, ms(r.updated)).run();
  }
  Status commit() override {
    TP_TRY(db_.exec("COMMIT"));
    done_ = true;
    return Status::ok();
  }

 private:
  Database& db_;
  Statements& s_;
  std::unique_lock<std::mutex> lock_;
  bool done_ = false;
};

class SqliteJourneyStore final : public JourneyStore {
 public:
  static Result<std::unique_ptr<JourneyStore>> open(const std::string& data_dir) {
    std::string path = data_dir + "/journeys.db";
    TP_ASSIGN(auto db, Database::open(path, Database::Mode::kReadWrite));
    TP_TRY(db->exec("PRAGMA journal_mode=WAL"));
    TP_TRY(db->exec("PRAGMA synchronous=FULL"));  // a commit that returned is on disk
    TP_TRY(db->exec("PRAGMA cache_size=-65536"));
    TP_TRY(db->exec("PRAGMA mmap_size=1073741824"));  // reads without copies; the kernel may drop the pages
    TP_TRY(sqlite::migrate(*db, SystemClock().now(), kJourneyMigrations));
    TP_ASSIGN(auto statements, Statements::prepare(*db));
    TP_ASSIGN(auto read_db, Database::open(path, Database::Mode::kReadWrite));
    // As the profile store does (docs/storage.md, "Checkpoints"): checkpoints on their own thread,
    // not inside the runner's commits, and a WAL that keeps its size when it starts over.
    TP_TRY(db->exec("PRAGMA journal_size_limit=536870912"));
    TP_TRY(db->exec("PRAGMA wal_autocheckpoint=0"));
    TP_ASSIGN(auto checkpointer, sqlite::Checkpointer::start(path, "tp-journeys-ckpt"));
    checkpointer->watch(*db, /*wake=*/false);
    auto store = std::unique_ptr<SqliteJourneyStore>(
        new SqliteJourneyStore(std::move(db), std::move(read_db), std::move(checkpointer)));
    store->s_ = std::make_unique<Statements>(std::move(statements));
    return std::unique_ptr<JourneyStore>(std::move(store));
  }

  Result<std::unique_ptr<JourneyWrite>> begin_write(Sync sync) override {
    std::unique_lock lock(write_mu_);
    TP_TRY(set_sync(sync));
    checkpointer_->restart_if_asked(*db_);
    TP_TRY(db_->exec("BEGIN IMMEDIATE"));
    return std::unique_ptr<JourneyWrite>(new SqliteJourneyWrite(*db_, *s_, std::move(lock)));
  }

  Result<int> purge_finished(int limit) override {
    std::lock_guard lock(write_mu_);
    TP_TRY(set_sync(Sync::kDeferred));
    Status s = db_->exec("BEGIN IMMEDIATE");
    std::vector<std::int64_t> ids;
    if (s.is_ok())
      s = each_row(s_->finished_ids.bind(1, std::int64_t{limit}), [&](const Statement& r) { ids.push_back(r.column_int(0)); });
    for (size_t i = 0; i < ids.size() && s.is_ok(); ++i) {
      s = s_->delete_instance_row.bind(1, ids[i]).run();
      if (s.is_ok()) s = s_->delete_finished.bind(1, ids[i]).run();
    }
    if (s.is_ok()) s = db_->exec("COMMIT");
    if (!s.is_ok()) (void)db_->exec("ROLLBACK");
    TP_TRY(s);
    return static_cast<int>(ids.size());
  }

  Result<std::optional<std::int64_t>> meta(std::string_view name) override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare("SELECT value FROM meta WHERE name=?"));
    q.bind(1, name);
    std::optional<std::int64_t> out;
    TP_TRY(each_row(q, [&](const Statement& r) { out = r.column_int(0); }));
    return out;
  }

  Result<std::vector<JourneyVersionRow>> versions() override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare("SELECT journey, version, file, source, first_seen FROM journey_versions"));
    std::vector<JourneyVersionRow> out;
    TP_TRY(each_row(q, [&](const Statement& r) {
      out.push_back({std::string(r.column_text(0)), std::string(r.column_text(1)), std::string(r.column_text(2)),
                     std::string(r.column_text(3)), from_ms(r.column_int(4))});
    }));
    return out;
  }

  Status load(const std::function<void(std::string_view, std::string_view)>& person,
              const std::function<void(std::string_view)>& instance) override {
    std::lock_guard lock(read_mu_);
    TP_TRY(read_->exec("BEGIN"));  // one snapshot
    auto people = read_->prepare("SELECT user_id, state FROM people");
    Status s = people.is_ok() ? each_row(*people, [&](const Statement& r) { person(r.column_text(0), r.column_text(1)); })
                              : people.status();
    if (s.is_ok()) {
      auto instances =
          read_->prepare("SELECT state FROM instances WHERE id NOT IN (SELECT id FROM finished_instances) ORDER BY id");
      s = instances.is_ok() ? each_row(*instances, [&](const Statement& r) { instance(r.column_text(0)); })
                            : instances.status();
    }
    (void)read_->exec("COMMIT");
    return s;
  }

  Result<std::vector<OutboxRow>> effects_after(std::int64_t after, int limit) override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare(
        "SELECT seq, key, instance, user_id, journey, step, action, time, body FROM effects WHERE seq > ? ORDER BY seq LIMIT ?"));
    q.bind(1, after).bind(2, std::int64_t{limit});
    std::vector<OutboxRow> out;
    TP_TRY(each_row(q, [&](const Statement& r) {
      out.push_back({r.column_int(0), std::string(r.column_text(1)), static_cast<std::uint64_t>(r.column_int(2)),
                     std::string(r.column_text(3)), std::string(r.column_text(4)), std::string(r.column_text(5)),
                     std::string(r.column_text(6)), from_ms(r.column_int(7)), std::string(r.column_text(8))});
    }));
    return out;
  }

  Result<std::vector<TaskRow>> open_tasks(std::optional<std::string> assignee, int limit) override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare(fmt::format(
        "SELECT {} FROM tasks WHERE done IS NULL AND (?1 IS NULL OR assignee = ?1) ORDER BY id LIMIT ?2", kTaskColumns)));
    if (assignee) q.bind(1, *assignee);
    q.bind(2, std::int64_t{limit});
    std::vector<TaskRow> out;
    TP_TRY(each_row(q, [&](const Statement& r) { out.push_back(read_task(r)); }));
    return out;
  }

  Result<std::optional<TaskRow>> complete_task(std::int64_t id, Timestamp now) override {
    std::lock_guard lock(write_mu_);
    TP_TRY(set_sync(Sync::kDurable));
    TP_ASSIGN(Statement update, db_->prepare("UPDATE tasks SET done=? WHERE id=? AND done IS NULL"));
    TP_TRY(update.bind(1, ms(now)).bind(2, id).run());
    TP_ASSIGN(Statement q, db_->prepare(fmt::format("SELECT {} FROM tasks WHERE id=?", kTaskColumns)));
    q.bind(1, id);
    std::optional<TaskRow> out;
    TP_TRY(each_row(q, [&](const Statement& r) { out = read_task(r); }));
    return out;
  }

  Result<std::vector<DeliveryRow>> due_deliveries(Timestamp now, int limit) override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare(fmt::format(
        "SELECT {}, e.body FROM deliveries d JOIN effects e ON e.seq = d.effect_seq "
        "WHERE d.status = 'pending' AND d.next_attempt <= ? ORDER BY d.next_attempt LIMIT ?", kDeliveryColumns)));
    q.bind(1, ms(now)).bind(2, std::int64_t{limit});
    return read_deliveries(q);
  }

  Result<std::vector<DeliveryRow>> deliveries(std::string_view status, int limit) override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare(fmt::format(
        "SELECT {}, e.body FROM deliveries d JOIN effects e ON e.seq = d.effect_seq WHERE d.status = ? "
        "ORDER BY d.updated LIMIT ?", kDeliveryColumns)));
    q.bind(1, status).bind(2, std::int64_t{limit});
    return read_deliveries(q);
  }

  Result<std::optional<DeliveryRow>> delivery_by_provider_id(std::string_view channel,
                                                             std::string_view provider_id) override {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare(fmt::format(
        "SELECT {}, e.body FROM deliveries d JOIN effects e ON e.seq = d.effect_seq "
        "WHERE d.channel = ? AND d.provider_id = ? AND d.provider_id != ''", kDeliveryColumns)));
    q.bind(1, channel).bind(2, provider_id);
    TP_ASSIGN(auto rows, read_deliveries(q));
    if (rows.empty()) return std::optional<DeliveryRow>();
    return std::optional<DeliveryRow>(std::move(rows.front()));
  }

  // Rows of kDeliveryColumns followed by the outbox body.
  static Result<std::vector<DeliveryRow>> read_deliveries(Statement& q) {
    std::vector<DeliveryRow> out;
    TP_TRY(each_row(q, [&](const Statement& r) {
      out.push_back(read_delivery(r));
      out.back().effect_body = r.column_text(13);
    }));
    return out;
  }

  Result<int> retry_failed(std::optional<std::string> key, Timestamp now) override {
    std::lock_guard lock(write_mu_);
    TP_TRY(set_sync(Sync::kDurable));
    TP_ASSIGN(Statement q, db_->prepare(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = ?1, updated = ?1 "
        "WHERE status = 'failed' AND (?2 IS NULL OR key = ?2)"));
    q.bind(1, ms(now));
    if (key) q.bind(2, *key);
    TP_TRY(q.run());
    return db_->changes();
  }

  Result<std::vector<StepCount>> step_counts(std::string_view journey) override {
    return counts("SELECT step, metric, count FROM step_counts WHERE journey=?", journey);
  }

  Result<std::vector<StepCount>> active_by_step(std::string_view journey) override {
    return counts("SELECT step, 'active', count FROM step_counts WHERE journey=? AND metric='waiting'", journey);
  }

 private:
  SqliteJourneyStore(std::unique_ptr<Database> db, std::unique_ptr<Database> read,
                     std::unique_ptr<sqlite::Checkpointer> checkpointer)
      : db_(std::move(db)), read_(std::move(read)), checkpointer_(std::move(checkpointer)) {}

  Result<std::vector<StepCount>> counts(std::string_view sql, std::string_view journey) {
    std::lock_guard lock(read_mu_);
    TP_ASSIGN(Statement q, read_->prepare(sql));
    q.bind(1, journey);
    std::vector<StepCount> out;
    TP_TRY(each_row(q, [&](const Statement& r) {
      out.push_back({std::string(r.column_text(0)), std::string(r.column_text(1)), r.column_int(2)});
    }));
    return out;
  }

  // With write_mu_ held. NORMAL in WAL mode: a commit writes the WAL without syncing it; the next
  // FULL commit syncs it together with its own.
  Status set_sync(Sync sync) {
    if (sync == sync_) return Status::ok();
    TP_TRY(db_->exec(sync == Sync::kDurable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    sync_ = sync;
    return Status::ok();
  }

  std::mutex write_mu_;
  std::unique_ptr<Database> db_;  // GUARDED_BY(write_mu_)
  Sync sync_ = Sync::kDurable;    // GUARDED_BY(write_mu_): the write connection's synchronous mode
  std::unique_ptr<Statements> s_;
  std::mutex read_mu_;
  std::unique_ptr<Database> read_;  // GUARDED_BY(read_mu_)
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // stopped before db_ closes
};

}  // namespace

Result<std::unique_ptr<JourneyStore>> open_sqlite_journey_store(const std::string& data_dir) {
  return SqliteJourneyStore::open(data_dir);
}

}  // namespace tp::storage
