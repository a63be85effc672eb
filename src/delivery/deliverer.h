// The outbox worker: delivers every `send` and `webhook` effect the journey runner wrote to the
// outbox, over the configured channel, once from the customer's point of view.
//
// A round: (1) new outbox rows become pending deliveries (with the position in the outbox, in
// one transaction); (2) due deliveries whose channel is open (circuit breaker) and within its
// rate limit are marked `sending` and the attempt counted, durably, before anything leaves;
// (3) each is rendered (templates) and handed to its channel adapter with the effect's
// idempotency key (SMTP Message-ID, SMS Idempotency-Key, webhook-id); (4) the outcomes are
// recorded: delivered; a temporary error retries with exponential back-off and jitter until
// max_attempts; a permanent error, a render error or an unconfigured channel is failed (the
// dead-letter list, `touchpoint outbox retry`). After a crash, deliveries left `sending` are in
// doubt and are attempted again with the same key: SMS providers and webhook receivers drop the
// repeat; for SMTP the repeat carries the same Message-ID (docs/delivery.md).
//
// Threading: one worker thread (start/stop) or run_once() from one thread; sends of a round run
// on `workers` threads. notify() and stop() from any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "channels/delivery.h"
#include "channels/sms.h"
#include "channels/smtp.h"
#include "channels/webhook.h"
#include "storage/journey_store.h"
#include "storage/store.h"
#include "templates/template_set.h"

namespace tp::delivery {

struct Options {
  size_t batch = 500;  // deliveries per round
  unsigned workers = 4;
  int max_attempts = 8;
  Millis first_backoff{30'000};
  Millis max_backoff{6 * 3600'000};
  // Sends per second and channel (0: unlimited).
  std::map<std::string, double> rate_per_second;
  // Circuit breaker per channel: open after this many temporary failures in a row, for cooldown.
  int breaker_failures = 5;
  Millis breaker_cooldown{30'000};
};

// What the worker needs from the outside world. Senders may be null: that channel is not
// configured, and its messages fail with a reason saying so.
struct Deps {
  storage::JourneyStore& store;
  storage::Store& profiles;  // the person's traits (address, personalisation)
  const templates::TemplateSet& templates;
  channels::EmailSender* email = nullptr;
  channels::SmsSender* sms = nullptr;
  channels::WebhookSender* webhook = nullptr;
  const Clock& clock;
  MetricsRegistry& metrics;
  // Links for an email: the HTML with tracking links and the RFC 8058 unsubscribe URL. Null:
  // the HTML is sent as rendered, and commercial email has no unsubscribe URL (it fails).
  std::function<std::string(const storage::DeliveryRow&, std::string html)> rewrite_html;
  std::function<std::string(const storage::DeliveryRow&)> unsubscribe_url;
  // Hands Segment messages (delivery events for the card) to the profile writer.
  std::function<void(std::vector<std::string> messages)> echo;
};

// The variables a message template sees: user.userId, user.traits.* (the profile's traits now),
// event.* (the entry message), journey.id, journey.step, message.* (key, channel, template,
// unsubscribe_url). kNotFound when no profile has the id.
Result<nlohmann::json> message_context(storage::Reader& profiles, const storage::DeliveryRow& row,
                                       const nlohmann::json& event, const std::string& unsubscribe_url);

// The message `name` would be for `user_id` now (`touchpoint template render`, the preview
// API): rendered with message_context, message key "preview", and a placeholder unsubscribe
// URL. kNotFound for an unknown person or template; template errors as render() gives them.
Result<templates::RenderedMessage> preview_message(storage::Reader& profiles, const templates::TemplateSet& templates,
                                                   const std::string& name, templates::Channel channel,
                                                   const std::string& user_id, const nlohmann::json& event);

class Deliverer {
 public:
  static Result<std::unique_ptr<Deliverer>> create(Deps deps, Options options);
  ~Deliverer();

  void start();
  void stop();
  void notify();  // the outbox has new rows
  // One round; returns how many deliveries it attempted.
  Result<size_t> run_once();

 private:
  Deliverer(Deps deps, Options options);
  Status take_new_effects();
  channels::DeliveryResult attempt(const storage::DeliveryRow& row);
  // Records the outcomes of going[i] for i in `ready`, in one transaction.
  Status record(std::vector<storage::DeliveryRow>& going, const std::vector<channels::DeliveryResult>& results,
                const std::vector<size_t>& ready);
  Millis backoff(int attempts);
  void loop();

  struct Breaker {
    int failures = 0;
    Timestamp open_until{};
  };
  struct Bucket {
    double tokens = 0;
    Timestamp refilled{};
  };

  Deps d_;
  Options options_;
  storage::ReaderPool readers_;  // of d_.profiles, lent to the sending threads
  std::map<std::string, Breaker> breakers_;
  std::map<std::string, Bucket> buckets_;
  std::uint64_t jitter_state_ = 0x9E3779B97F4A7C15ULL;
  Millis wait_{1000};  // until the next round when this one found nothing to send
  Counter& delivered_;
  Counter& retried_;
  Counter& failed_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;  // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace tp::delivery
