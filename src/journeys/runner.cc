#include "journeys/runner.h"

#include <fmt/format.h>

#include <filesystem>
#include <unordered_set>

#include "base/json_text.h"
#include "base/log.h"
#include "base/thread.h"
#include "base/time_format.h"
#include "profiles/writer.h"

namespace tp::journeys {
namespace {

// Echoed effects carry this context.source; the runner does not feed them back to the engine.
constexpr std::string_view kEchoSource = "touchpoint-journeys";

// The per-step counter an effect adds to; "" for none (enter counts as the first step's arrival).
std::string_view metric_of(std::string_view action) {
  if (action == "send") return "sent";
  if (action == "exit") return "exited";
  if (action == "enter") return "";
  return action;  // suppressed, task, update, webhook, goal
}

std::string track_name(std::string_view action) {
  if (action == "enter") return "Journey Entered";
  if (action == "send") return "Journey Message Sent";
  if (action == "suppressed") return "Journey Message Suppressed";
  if (action == "task") return "Journey Task Created";
  if (action == "webhook") return "Journey Webhook Called";
  if (action == "goal") return "Journey Goal Reached";
  return "Journey Exited";
}

// Engagement with a message, counted at the step that sent it: track events naming
// properties.journey and properties.step (tracking links and provider callbacks send them).
std::string_view engagement_metric(const Json& message) {
  static const std::pair<std::string_view, std::string_view> kMetrics[] = {
      {"Email Opened", "opened"},       {"Email Clicked", "clicked"},  {"SMS Clicked", "clicked"},
      {"Unsubscribed", "unsubscribed"}, {"Email Bounced", "bounced"},  {"Email Complained", "complained"},
      {"SMS Undelivered", "bounced"}};
  auto event = message.find("event");
  if (event == message.end() || !event->is_string()) return {};
  for (const auto& [name, metric] : kMetrics)
    if (*event == name) return metric;
  return {};
}

bool is_echo(const Json& message) {
  auto context = message.find("context");
  if (context == message.end() || !context->is_object()) return false;
  auto source = context->find("source");
  return source != context->end() && source->is_string() && source->get<std::string>() == kEchoSource;
}

}  // namespace

Result<Workspace> load_live_workspace(const std::string& dir, storage::JourneyStore& store, Timestamp now,
                                      std::vector<Problem>& problems) {
  TP_ASSIGN(Workspace ws, load_workspace(dir, problems));
  if (!problems.empty()) return invalid_argument(fmt::format("the journeys in {} have problems", dir));
  ws.keep_entry_events = true;
  TP_ASSIGN(auto known, store.versions());
  {
    TP_ASSIGN(auto tx, store.begin_write());
    for (const Journey& j : ws.journeys) TP_TRY(tx->put_version({j.id, j.version, j.file, j.source, now}));
    TP_TRY(tx->commit());
  }
  for (const auto& v : known) {
    bool current = std::any_of(ws.journeys.begin(), ws.journeys.end(),
                               [&](const Journey& j) { return j.id == v.journey && j.version == v.version; });
    if (current) continue;
    std::vector<Problem> old_problems;
    auto old = load_journey(v.file, v.source, old_problems);
    if (!old) {
      log::warn("an earlier journey version no longer loads", {{"journey", v.journey}, {"version", v.version}});
      continue;
    }
    old->retired = true;
    ws.journeys.push_back(std::move(*old));
  }
  return ws;
}

Runner::Runner(storage::Store& events, storage::JourneyStore& store, const Clock& clock, MetricsRegistry& metrics,
               Echo echo, Options options)
    : events_(events),
      store_(store),
      clock_(clock),
      echo_(std::move(echo)),
      options_(options),
      effects_total_(metrics.counter("touchpoint_journey_effects_total", "Journey effects written to the outbox")),
      events_consumed_(metrics.counter("touchpoint_journey_events_total", "Events the journey runner consumed")),
      batch_seconds_(metrics.histogram("touchpoint_journey_batch_seconds", "Journey runner batch time (work and commit)",
                                        {0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1, 5})),
      active_instances_(metrics.gauge("touchpoint_journey_active_instances", "Journey instances in progress")) {}

Runner::~Runner() { stop(); }

Result<std::unique_ptr<Runner>> Runner::create(Workspace workspace, storage::Store& events,
                                               storage::JourneyStore& store, const Clock& clock,
                                               MetricsRegistry& metrics, Echo echo, Options options) {
  auto runner = std::unique_ptr<Runner>(new Runner(events, store, clock, metrics, std::move(echo), options));
  TP_TRY(runner->restore(workspace));
  return runner;
}

Status Runner::restore(Workspace& workspace) {
  engine_ = std::make_unique<Engine>(std::move(workspace), [this](const Effect& e) { effects_.push_back(e); });
  for (const Journey& j : engine_->workspace().journeys)
    if (!j.retired) current_.push_back(&j);
  TP_ASSIGN(reader_, events_.open_reader());
  // People erased from the profile store while no runner ran (serve without --journeys), or
  // before the runner took the erasure in (a crash in between), are forgotten now. Checked
  // only when the store has erased someone since the last check.
  TP_ASSIGN(auto erased, reader_->erased_hashes());
  TP_ASSIGN(auto checked, store_.meta("erasures_checked"));
  std::unordered_set<std::string> erased_set;
  std::string salt;
  if (static_cast<std::int64_t>(erased.size()) != checked.value_or(0)) {
    erased_set.insert(std::make_move_iterator(erased.begin()), std::make_move_iterator(erased.end()));
    TP_ASSIGN(salt, events_.secret("erasure_salt"));
    erasures_checked_ = static_cast<std::int64_t>(erased_set.size());
  }
  std::vector<std::string> late_erasures;
  Status failed = Status::ok();
  TP_TRY(store_.load(
      [&](std::string_view user, std::string_view state) {
        if (!erased_set.empty() && erased_set.count(profiles::erasure_hash(salt, storage::IdentityKind::kUser, user)))
          late_erasures.emplace_back(user);
        engine_->restore_person(std::string(user), Json::parse(state));
      },
      [&](std::string_view state) {
        Status s = engine_->restore_instance(Json::parse(state));
        if (!s.is_ok() && failed.is_ok()) failed = s;
      }));
  TP_TRY(failed);
  engine_->track_changes(true);
  if (!late_erasures.empty()) {
    log::info("journey runner forgets people erased while it was not running",
              {{"people", std::to_string(late_erasures.size())}});
    std::lock_guard lock(mu_);
    for (auto& user : late_erasures) erasures_.emplace_back(std::move(user), [](Status) {});
  }
  TP_ASSIGN(auto next, store_.meta("next_instance"));
  if (next) engine_->set_next_instance_id(static_cast<std::uint64_t>(*next));
  TP_ASSIGN(auto cursor, store_.meta("events_cursor"));
  if (cursor) {
    cursor_ = *cursor;
  } else {
    // First start with journeys: they react to what happens from now on, not to old history.
    TP_ASSIGN(cursor_, reader_->last_event_seq());
    TP_ASSIGN(auto tx, store_.begin_write());
    TP_TRY(tx->set_meta("events_cursor", cursor_));
    TP_TRY(tx->commit());
  }
  TP_ASSIGN(auto echoed, store_.meta("echo_cursor"));
  echoed_ = echoed.value_or(0);
  echo_acked_ = echoed_;
  active_instances_.set(static_cast<long long>(engine_->active_instances()));
  return Status::ok();
}

void Runner::start() {
  thread_ = std::thread([this] {
    name_this_thread("tp-journeys");
    loop();
  });
}

void Runner::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Runner::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void Runner::erase(std::string user_id, std::function<void(Status)> done) {
  {
    std::lock_guard lock(mu_);
    erasures_.emplace_back(std::move(user_id), std::move(done));
  }
  cv_.notify_all();
}

Status Runner::run_once() {
  while (true) {
    TP_ASSIGN(bool more, step());
    if (!more) return Status::ok();
  }
}

Status Runner::purge_finished() {
  while (true) {
    TP_ASSIGN(bool more, purge_chunk());
    if (!more) return Status::ok();
  }
}

Result<bool> Runner::purge_chunk() {
  constexpr int kChunk = 1000;  // ~4 ms: new work waits at most that long
  TP_ASSIGN(int purged, store_.purge_finished(kChunk));
  unpurged_ = purged < kChunk ? 0 : std::max<std::int64_t>(1, unpurged_ - purged);
  return unpurged_ > 0;
}

void Runner::loop() {
  int failures = 0;
  while (true) {
    auto more = step();
    if (!more.is_ok()) {
      // The batch was rolled back and the engine may be ahead of the store: rebuild it from the
      // store, then try again after a pause.
      log::error("journey runner batch failed", {{"error", more.status().message()}});
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(std::min(5000, 100 << std::min(failures++, 6))),
                   [&] { return stopping_; });
      if (stopping_) return;
      lock.unlock();
      effects_.clear();
      engagement_.clear();
      Workspace copy = engine_->workspace();
      current_.clear();
      Status s = restore(copy);
      if (!s.is_ok()) log::error("journey runner cannot reload its state", {{"error", s.message()}});
      continue;
    }
    failures = 0;
    echo_pending();
    // Ended instances' rows go when nothing has arrived since the last sleep ended, and with
    // 100,000 of them waiting a chunk per batch (docs/storage.md, finished_instances).
    bool busy;
    {
      std::lock_guard lock(mu_);
      busy = *more || notified_ || !erasures_.empty();
    }
    if (unpurged_ > 0 && ((quiet_ && !busy) || unpurged_ >= 100000)) {
      auto purged = purge_chunk();
      if (!purged.is_ok()) {
        log::error("journey runner cannot delete ended instances", {{"error", purged.status().message()}});
        unpurged_ = 0;  // tried again once more instances end
      } else if (*purged && !busy) {
        continue;  // new work first, then the next chunk
      }
    }
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (*more || notified_ || !erasures_.empty()) {
      notified_ = false;
      continue;
    }
    // Sleep until the next timer, a notification, or a second (the wall clock may jump).
    auto wait = std::chrono::milliseconds(1000);
    if (auto next = engine_->next_timer()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.now());
      wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
    cv_.wait_for(lock, wait, [&] { return stopping_ || notified_ || !erasures_.empty(); });
    quiet_ = !notified_ && erasures_.empty();  // woken by the clock, not by new events
    notified_ = false;
    if (stopping_) return;
  }
}

Result<bool> Runner::step() {
  auto start = std::chrono::steady_clock::now();
  std::deque<std::pair<std::string, std::function<void(Status)>>> erasures;
  {
    std::lock_guard lock(mu_);
    erasures.swap(erasures_);
  }
  std::vector<std::string> forgotten;
  for (auto& [user, done] : erasures) {
    engine_->forget(user);
    forgotten.push_back(user);
  }

  Timestamp now = clock_.now();
  size_t fired = engine_->advance_to(now, options_.timer_batch);
  bool more = fired == options_.timer_batch;
  std::int64_t cursor = cursor_;
  if (!more) {
    // Due timers are done; now the events that arrived since the last batch.
    TP_ASSIGN(auto events, reader_->events_after(cursor_, static_cast<int>(options_.batch)));
    more = events.size() == options_.batch;
    for (const auto& e : events) {
      cursor = e.seq;
      Json message = Json::parse(e.body, nullptr, false);
      if (message.is_discarded() || is_echo(message)) continue;
      // The person is the profile: after identity resolution their events may carry another id.
      if (!e.user_id.empty()) message["userId"] = e.user_id;
      if (auto metric = engagement_metric(message); !metric.empty()) {
        auto props = message.find("properties");
        if (props != message.end() && props->is_object() && props->value("journey", Json()).is_string() &&
            props->value("step", Json()).is_string())
          ++engagement_[{(*props)["journey"].get<std::string>(), (*props)["step"].get<std::string>(), std::string(metric)}];
      }
      engine_->on_message(std::move(message), now);
    }
    events_consumed_.add(static_cast<long long>(events.size()));
  }

  Status s = Status::ok();
  if (!effects_.empty() || cursor != cursor_ || !forgotten.empty() || echo_acked_ != echoed_ || !engagement_.empty() ||
      erasures_checked_) {
    // Steps are derived from the event log, which is durable, so their commit need not wait for
    // the disk: a power cut can only undo steps that run again from the restored position, and
    // the deliverer sends nothing before its own durable commit, which syncs these rows first
    // (docs/storage.md, "Deferred runner commits"). An erasure is answered from here: durable.
    auto tx = store_.begin_write(forgotten.empty() ? storage::JourneyStore::Sync::kDeferred
                                                   : storage::JourneyStore::Sync::kDurable);
    s = tx.is_ok() ? Status::ok() : tx.status();
    for (const auto& user : forgotten)
      if (s.is_ok()) s = (*tx)->delete_user(user);
    if (s.is_ok() && erasures_checked_) s = (*tx)->set_meta("erasures_checked", *erasures_checked_);
    if (s.is_ok()) s = persist(**tx, cursor);
    if (s.is_ok()) s = (*tx)->commit();
  } else {
    (void)engine_->take_changes();
  }
  for (auto& [user, done] : erasures) done(s);
  TP_TRY(s);
  erasures_checked_.reset();
  cursor_ = cursor;
  echoed_ = echo_acked_;
  if (options_.committed && !effects_.empty()) options_.committed(effects_);
  effects_total_.add(static_cast<long long>(effects_.size()));
  effects_.clear();
  engagement_.clear();
  active_instances_.set(static_cast<long long>(engine_->active_instances()));
  batch_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return more;
}

Status Runner::persist(storage::JourneyWrite& tx, std::int64_t cursor) {
  Changes changes = engine_->take_changes();
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> counts = engagement_;
  std::string body;
  for (const Effect& e : effects_) {
    // Only what the row's columns do not hold (time, user, journey, step, action, instance, key).
    body.clear();
    e.append_details_json(body);  // each field as ,"name":value
    if (e.action == "send" || e.action == "webhook") body += e.commercial ? ",\"commercial\":true" : ",\"commercial\":false";
    if (!e.entry.empty() && (e.action == "send" || e.action == "webhook")) {
      body += ",\"event\":";  // for the message template (event.*)
      body += e.entry;
    }
    if (body.empty()) body.push_back('{');
    else body[0] = '{';  // the first field's comma
    body += "}";
    TP_ASSIGN(bool fresh, tx.add_effect({0, e.key, e.instance, std::string(e.user_id), std::string(e.journey),
                                         std::string(e.step), std::string(e.action), e.time, body}));
    if (!fresh) continue;  // done before: never twice
    if (e.action == "task")
      TP_TRY(tx.add_task({0, e.key, std::string(e.user_id), std::string(e.journey), std::string(e.step),
                          std::string(e.template_name), e.assignee, e.time, std::nullopt}));
    if (auto metric = metric_of(e.action); !metric.empty())
      ++counts[{std::string(e.journey), std::string(e.step), std::string(metric)}];
  }
  for (const auto& [where, n] : changes.arrivals) counts[{where.first, where.second, "entered"}] += n;
  for (const auto& [where, n] : changes.at_step) counts[{where.first, where.second, "waiting"}] += n;
  for (const auto& [where, n] : counts) TP_TRY(tx.add_count(std::get<0>(where), std::get<1>(where), std::get<2>(where), n));
  for (const auto& [user, state] : changes.people) TP_TRY(tx.put_person(user, state.dump()));
  for (const Json& inst : changes.instances) {
    std::optional<Timestamp> due;
    if (!inst["due"].is_null()) due = Timestamp(Millis(inst["due"].get<std::int64_t>()));
    TP_TRY(tx.put_instance(inst["id"], inst["journey"].get<std::string>(), inst["user"].get<std::string>(),
                           inst["step"].get<std::string>(), due, inst.dump()));
  }
  for (auto id : changes.finished) TP_TRY(tx.delete_instance(id));
  unpurged_ += static_cast<std::int64_t>(changes.finished.size());
  TP_TRY(tx.set_meta("events_cursor", cursor));
  TP_TRY(tx.set_meta("next_instance", static_cast<std::int64_t>(engine_->next_instance_id())));
  TP_TRY(tx.set_meta("echo_cursor", echo_acked_));
  return Status::ok();
}

void Runner::echo_pending() {
  if (!echo_ || echo_in_flight_) return;  // one echo batch at a time
  auto rows = store_.effects_after(echo_acked_, static_cast<int>(options_.batch));
  if (!rows.is_ok() || rows->empty()) return;
  std::vector<std::string> messages;
  for (const auto& row : *rows) messages.push_back(echo_message(row, *reader_));
  std::int64_t last = rows->back().seq;
  echo_in_flight_ = true;
  echo_(std::move(messages), [this, last](bool ok) {
    if (ok) echo_acked_ = last;  // else: sent again with the next batch
    echo_in_flight_ = false;
    notify();
  });
}

std::string Runner::echo_message(const storage::OutboxRow& row, storage::Reader& reader) {
  Json effect = Json::parse(row.body);
  Json m;
  // The engine's person is a userId, or an anonymousId for a profile never identified.
  auto user = reader.find_identity(storage::IdentityKind::kUser, row.user_id);
  m[user.is_ok() && *user ? "userId" : "anonymousId"] = row.user_id;
  m["messageId"] = "journey-" + row.key;
  m["timestamp"] = format_iso8601(row.time);
  m["context"] = {{"source", kEchoSource}};
  if (row.action == "update") {
    m["type"] = "identify";
    m["traits"] = {{effect.value("trait", ""), effect.value("value", Json())}};
    m["context"]["journey"] = row.journey;
    m["context"]["step"] = row.step;
    return m.dump();
  }
  m["type"] = "track";
  m["event"] = track_name(row.action);
  Json properties = {{"journey", row.journey}, {"step", row.step}, {"instance", row.instance}};
  for (const char* k : {"channel", "template", "reason", "assignee"})
    if (effect.contains(k)) properties[k] = effect[k];
  m["properties"] = std::move(properties);
  return m.dump();
}

}  // namespace tp::journeys
