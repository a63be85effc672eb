#include "delivery/deliverer.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "base/log.h"
#include "base/thread.h"
#include "base/time_format.h"
#include "channels/config.h"

namespace tp::delivery {
namespace {

using Json = nlohmann::json;
using storage::DeliveryRow;

constexpr std::string_view kEchoSource = "touchpoint-delivery";
constexpr Millis kIdleWait{1000};
constexpr size_t kRecordBatch = 64;
constexpr auto kRecordDelay = std::chrono::milliseconds(5);

std::optional<templates::Channel> template_channel(std::string_view channel) {
  return templates::parse_channel(channel);
}

}  // namespace

Deliverer::Deliverer(Deps deps, Options options)
    : d_(std::move(deps)),
      options_(std::move(options)),
      readers_(d_.profiles),
      delivered_(d_.metrics.counter("touchpoint_deliveries_delivered_total", "Messages a provider accepted")),
      retried_(d_.metrics.counter("touchpoint_deliveries_retried_total", "Attempts that failed temporarily")),
      failed_(d_.metrics.counter("touchpoint_deliveries_failed_total", "Messages given up (the dead-letter list)")) {}

Deliverer::~Deliverer() { stop(); }

Result<std::unique_ptr<Deliverer>> Deliverer::create(Deps deps, Options options) {
  auto deliverer = std::unique_ptr<Deliverer>(new Deliverer(std::move(deps), std::move(options)));
  // Deliveries left `sending` by a crash are in doubt: attempt them again with the same key.
  TP_ASSIGN(auto in_doubt, deliverer->d_.store.deliveries("sending", 1000000));
  if (!in_doubt.empty()) {
    TP_ASSIGN(auto tx, deliverer->d_.store.begin_write());
    for (auto& row : in_doubt) {
      row.status = "pending";
      row.last_error = "in doubt after a restart: attempted again with the same idempotency key";
      TP_TRY(tx->put_delivery(row));
    }
    TP_TRY(tx->commit());
    log::warn("deliveries in doubt after a restart", {{"count", std::to_string(in_doubt.size())}});
  }
  return deliverer;
}

void Deliverer::start() {
  thread_ = std::thread([this] {
    name_this_thread("tp-delivery");
    loop();
  });
}

void Deliverer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Deliverer::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void Deliverer::loop() {
  while (true) {
    auto attempted = run_once();
    if (!attempted.is_ok()) log::error("delivery round failed", {{"error", attempted.status().message()}});
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (attempted.is_ok() && *attempted > 0) continue;
    // Retries come due with time: look again at least every second (sooner for a rate limit).
    cv_.wait_for(lock, wait_, [&] { return stopping_ || notified_; });
    notified_ = false;
    if (stopping_) return;
  }
}

Status Deliverer::take_new_effects() {
  TP_ASSIGN(auto cursor, d_.store.meta("delivery_cursor"));
  TP_ASSIGN(auto rows, d_.store.effects_after(cursor.value_or(0), static_cast<int>(options_.batch * 5)));
  if (rows.empty()) return Status::ok();
  TP_ASSIGN(auto tx, d_.store.begin_write());
  for (const auto& row : rows) {
    if (row.action != "send" && row.action != "webhook") continue;
    Json effect = Json::parse(row.body, nullptr, false);
    DeliveryRow d;
    d.key = row.key;
    d.effect_seq = row.seq;
    d.user_id = row.user_id;
    d.journey = row.journey;
    d.step = row.step;
    d.channel = row.action == "webhook" ? "webhook" : effect.value("channel", "email");
    d.template_name = effect.value("template", "");
    d.status = "pending";
    d.next_attempt = row.time;
    d.updated = d_.clock.now();
    TP_TRY(tx->put_delivery(d));
  }
  TP_TRY(tx->set_meta("delivery_cursor", rows.back().seq));
  return tx->commit();
}

Millis Deliverer::backoff(int attempts) {
  // Exponential from first_backoff, capped, with "full jitter" in [half, whole] so that many
  // messages failing together do not come back together.
  double base = static_cast<double>(options_.first_backoff.count()) * std::pow(2.0, std::max(0, attempts - 1));
  base = std::min(base, static_cast<double>(options_.max_backoff.count()));
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  double unit = static_cast<double>(jitter_state_ % 1000000) / 1e6;
  return Millis(static_cast<long long>(base * (0.5 + 0.5 * unit)));
}

Result<Json> message_context(storage::Reader& reader, const DeliveryRow& row, const Json& event,
                             const std::string& unsubscribe_url) {
  Json traits = Json::object();
  TP_ASSIGN(auto id, reader.find_identity(storage::IdentityKind::kUser, row.user_id));
  if (!id) {
    TP_ASSIGN(id, reader.find_identity(storage::IdentityKind::kAnonymous, row.user_id));
  }
  if (!id) return not_found(fmt::format("no profile for {}", row.user_id));
  TP_ASSIGN(auto profile, reader.profile(*id));
  for (const auto& t : profile.traits) traits[t.name] = Json::parse(t.json, nullptr, false);
  Json message = {{"key", row.key}, {"channel", row.channel}, {"template", row.template_name}};
  if (!unsubscribe_url.empty()) message["unsubscribe_url"] = unsubscribe_url;
  return Json{{"user", {{"userId", row.user_id}, {"traits", std::move(traits)}}},
              {"event", event.is_object() ? event : Json::object()},
              {"journey", {{"id", row.journey}, {"step", row.step}}},
              {"message", std::move(message)}};
}

Result<templates::RenderedMessage> preview_message(storage::Reader& profiles, const templates::TemplateSet& templates,
                                                   const std::string& name, templates::Channel channel,
                                                   const std::string& user_id, const Json& event) {
  DeliveryRow row;
  row.key = "preview";
  row.user_id = user_id;
  row.channel = channel == templates::Channel::kEmail ? "email" : channel == templates::Channel::kSms ? "sms" : "webhook";
  row.template_name = name;
  TP_ASSIGN(auto context, message_context(profiles, row, event, "https://example.invalid/unsubscribe"));
  return templates.render(name, channel, context);
}

channels::DeliveryResult Deliverer::attempt(const DeliveryRow& row) {
  using channels::DeliveryResult;
  Json effect = Json::parse(row.effect_body, nullptr, false);
  auto channel = template_channel(row.channel);
  if (!channel) return DeliveryResult::permanent_error(fmt::format("unknown channel {}", row.channel));
  if ((*channel == templates::Channel::kEmail && !d_.email) || (*channel == templates::Channel::kSms && !d_.sms) ||
      (*channel == templates::Channel::kWebhook && !d_.webhook))
    return DeliveryResult::permanent_error(
        fmt::format("channel {} is not configured (touchpoint.yaml channels: section)", row.channel));
  Json context_json;
  Status read = readers_.with_reader([&](storage::Reader& reader) -> Status {
    TP_ASSIGN(context_json, message_context(reader, row, effect.value("event", Json::object()),
                                            d_.unsubscribe_url ? d_.unsubscribe_url(row) : std::string()));
    return Status::ok();
  });
  if (!read.is_ok()) return DeliveryResult::permanent_error(read.message());
  auto rendered = d_.templates.render(row.template_name, *channel, context_json);
  if (!rendered.is_ok()) return DeliveryResult::permanent_error(fmt::format("template: {}", rendered.status().message()));
  const Json& traits = context_json["user"]["traits"];
  switch (*channel) {
    case templates::Channel::kEmail: {
      channels::EmailMessage m;
      m.to.push_back({traits.value("email", ""), traits.value("name", "")});
      if (!rendered->from.empty()) {
        if (auto from = channels::parse_mailbox(rendered->from)) m.from = *from;
      }
      if (!rendered->reply_to.empty()) m.reply_to = channels::parse_mailbox(rendered->reply_to);
      m.subject = rendered->subject;
      m.preheader = rendered->preheader;
      m.html = d_.rewrite_html && !rendered->html.empty() ? d_.rewrite_html(row, rendered->html) : rendered->html;
      m.text = rendered->text;
      m.idempotency_key = row.key;
      m.headers = {{"X-Touchpoint-Journey", row.journey}, {"X-Touchpoint-Step", row.step}};
      if (effect.value("commercial", false)) {
        m.kind = channels::EmailKind::kCommercial;
        if (d_.unsubscribe_url) m.unsubscribe_url = d_.unsubscribe_url(row);
      }
      return d_.email->send(m);
    }
    case templates::Channel::kSms:
      return d_.sms->send({traits.value("phone", ""), rendered->text, row.key, rendered->from});
    case templates::Channel::kWebhook:
      if (rendered->url.empty())
        return DeliveryResult::permanent_error(fmt::format("webhook template {} sets no url", row.template_name));
      return d_.webhook->send({rendered->url, row.key, rendered->body, ""});
  }
  return DeliveryResult::permanent_error("unreachable");
}

Result<size_t> Deliverer::run_once() {
  TP_TRY(take_new_effects());
  Timestamp now = d_.clock.now();
  wait_ = kIdleWait;
  TP_ASSIGN(auto due, d_.store.due_deliveries(now, static_cast<int>(options_.batch)));

  // Which may go now: the channel's breaker is closed (or half-open: one trial) and its rate
  // limit has a token.
  std::vector<DeliveryRow> going;
  std::map<std::string, int> trials;
  for (auto& row : due) {
    Breaker& breaker = breakers_[row.channel];
    if (breaker.failures >= options_.breaker_failures) {
      if (now < breaker.open_until || trials[row.channel]++ > 0) continue;
    }
    if (auto rate = options_.rate_per_second.find(row.channel); rate != options_.rate_per_second.end() && rate->second > 0) {
      Bucket& bucket = buckets_[row.channel];
      double seconds = std::chrono::duration<double>(now - bucket.refilled).count();
      // A burst of at most one second's worth (and at least one message, for rates below 1/s).
      bucket.tokens = std::min(std::max(1.0, rate->second), bucket.tokens + seconds * rate->second);
      bucket.refilled = now;
      if (bucket.tokens < 1) {
        // Look again when the next token is there.
        auto wait = Millis(static_cast<long long>(std::ceil((1 - bucket.tokens) / rate->second * 1000)));
        wait_ = std::min(wait_, wait);
        continue;
      }
      bucket.tokens -= 1;
    }
    going.push_back(std::move(row));
  }
  if (going.empty()) return size_t{0};

  // Counted and marked before anything leaves: a crash from here on leaves them in doubt.
  {
    TP_ASSIGN(auto tx, d_.store.begin_write());
    for (auto& row : going) {
      row.status = "sending";
      ++row.attempts;
      row.updated = now;
      TP_TRY(tx->put_delivery(row));
    }
    TP_TRY(tx->commit());
  }

  // Sent on `workers` threads; this thread records each outcome as soon as it is known, many
  // per commit when they arrive together. The sooner "delivered" is durable, the shorter the
  // window in which a crash leaves a message that did go out in doubt (docs/delivery.md).
  std::vector<channels::DeliveryResult> results(going.size());
  std::atomic<size_t> next{0};
  std::mutex finished_mu;
  std::condition_variable finished_cv;
  std::vector<size_t> finished;
  auto work = [&] {
    for (size_t i = next++; i < going.size(); i = next++) {
      results[i] = attempt(going[i]);
      std::lock_guard lock(finished_mu);
      finished.push_back(i);
      if (finished.size() == 1 || finished.size() >= kRecordBatch) finished_cv.notify_one();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::min<size_t>(options_.workers, going.size()); ++t) threads.emplace_back(work);
  Status recorded = Status::ok();
  for (size_t done = 0; done < going.size();) {
    std::vector<size_t> ready;
    {
      // A commit costs an fsync: gather outcomes for up to kRecordDelay (or kRecordBatch of
      // them) so that one commit records many, keeping each in doubt for milliseconds only.
      std::unique_lock lock(finished_mu);
      finished_cv.wait(lock, [&] { return !finished.empty(); });
      size_t want = std::min(kRecordBatch, going.size() - done);
      finished_cv.wait_for(lock, kRecordDelay, [&] { return finished.size() >= want; });
      ready.swap(finished);
    }
    done += ready.size();
    if (recorded.is_ok()) recorded = record(going, results, ready);
  }
  for (auto& t : threads) t.join();
  TP_TRY(recorded);
  return going.size();
}

Status Deliverer::record(std::vector<DeliveryRow>& going, const std::vector<channels::DeliveryResult>& results,
                         const std::vector<size_t>& ready) {
  Timestamp done = d_.clock.now();
  std::vector<std::string> echoes;
  TP_ASSIGN(auto tx, d_.store.begin_write());
  for (size_t i : ready) {
    DeliveryRow& row = going[i];
    const auto& r = results[i];
    Breaker& breaker = breakers_[row.channel];
    row.updated = done;
    row.last_error = r.delivered() ? "" : r.reason;
    std::string metric;
    if (r.delivered()) {
      row.status = "delivered";
      row.provider_id = r.provider_id;
      breaker = {};
      metric = "delivered";
      delivered_.add();
    } else if (r.temporary() && row.attempts < options_.max_attempts) {
      row.status = "pending";
      row.next_attempt = done + std::max(backoff(row.attempts), r.retry_after.value_or(Millis(0)));
      if (++breaker.failures >= options_.breaker_failures) breaker.open_until = done + options_.breaker_cooldown;
      retried_.add();
    } else {
      row.status = "failed";
      metric = "failed";
      failed_.add();
      if (r.temporary() && ++breaker.failures >= options_.breaker_failures)
        breaker.open_until = done + options_.breaker_cooldown;
    }
    TP_TRY(tx->put_delivery(row));
    if (!metric.empty()) {
      TP_TRY(tx->add_count(row.journey, row.step, metric, 1));
      Json echo = {{"type", "track"},
                   {"userId", row.user_id},
                   {"event", metric == "delivered" ? "Message Delivered" : "Message Failed"},
                   {"messageId", "delivery-" + metric + "-" + row.key},
                   {"timestamp", format_iso8601(done)},
                   {"properties",
                    {{"journey", row.journey}, {"step", row.step}, {"channel", row.channel},
                     {"template", row.template_name}, {"messageKey", row.key}, {"attempts", row.attempts}}},
                   {"context", {{"source", kEchoSource}}}};
      if (metric == "failed") echo["properties"]["reason"] = row.last_error;
      echoes.push_back(echo.dump());
    }
  }
  TP_TRY(tx->commit());
  if (d_.echo && !echoes.empty()) d_.echo(std::move(echoes));
  return Status::ok();
}

}  // namespace tp::delivery
