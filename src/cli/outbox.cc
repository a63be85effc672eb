// `touchpoint outbox list|retry` (the delivery queue and its dead letters) and
// `touchpoint template render` (preview a message for one customer).
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/time_format.h"
#include "cli/commands.h"
#include "delivery/deliverer.h"
#include "storage/sqlite_journey_store.h"
#include "storage/sqlite_store.h"
#include "templates/template_set.h"

namespace tp::cli {
namespace {

using Json = nlohmann::json;

int list(const std::string& data, const std::string& status, int limit) {
  auto store = storage::open_sqlite_journey_store(data);
  if (!store.is_ok()) return fail(store.status().message());
  auto rows = (*store)->deliveries(status, limit);
  if (!rows.is_ok()) return fail(rows.status().message());
  for (const auto& r : *rows) {
    Json line = {{"key", r.key},         {"userId", r.user_id},   {"journey", r.journey},
                 {"step", r.step},       {"channel", r.channel},  {"template", r.template_name},
                 {"status", r.status},   {"attempts", r.attempts}, {"nextAttempt", format_iso8601(r.next_attempt)},
                 {"providerId", r.provider_id}, {"error", r.last_error}, {"updated", format_iso8601(r.updated)}};
    std::cout << line.dump() << "\n";
  }
  return 0;
}

int retry(const std::string& data, const std::string& key) {
  auto store = storage::open_sqlite_journey_store(data);
  if (!store.is_ok()) return fail(store.status().message());
  auto n = (*store)->retry_failed(key.empty() ? std::nullopt : std::optional<std::string>(key), SystemClock().now());
  if (!n.is_ok()) return fail(n.status().message());
  if (!key.empty() && *n == 0) return fail("no failed delivery has the key " + key);
  std::cout << *n << (*n == 1 ? " delivery" : " deliveries") << " back in the queue\n";
  return 0;
}

int render(const std::string& data, const std::string& journeys, const std::string& name, const std::string& channel_name,
           const std::string& user, const std::string& event) {
  auto channel = templates::parse_channel(channel_name);
  if (!channel) return fail("--channel must be email, sms or webhook");
  auto set = templates::load_template_dir((std::filesystem::path(journeys) / "templates").string());
  if (!set.is_ok()) return fail(set.status().message());
  Json event_json = event.empty() ? Json::object() : Json::parse(event, nullptr, false);
  if (event_json.is_discarded() || !event_json.is_object()) return fail("--event must be a JSON object (the entry message)");
  auto store = storage::open_sqlite_store(data);
  if (!store.is_ok()) return fail(store.status().message());
  auto reader = (*store)->open_reader();
  if (!reader.is_ok()) return fail(reader.status().message());
  auto rendered = delivery::preview_message(**reader, *set, name, *channel, user, event_json);
  if (!rendered.is_ok()) return fail(rendered.status().message());
  std::cout << rendered->to_json().dump(2) << "\n";
  return 0;
}

}  // namespace

void add_outbox(CLI::App& app, int& exit_status) {
  auto* outbox = app.add_subcommand("outbox", "The delivery queue: list deliveries, retry failed ones");
  outbox->require_subcommand(1);
  struct Args {
    std::string data = default_data_dir(), status = "failed", key;
    int limit = 100;
  };
  auto args = std::make_shared<Args>();
  auto* ls = outbox->add_subcommand("list", "Deliveries in a status as JSON lines (default: failed, the dead letters)");
  ls->add_option("--data", args->data, "Data directory (env TOUCHPOINT_DATA)");
  ls->add_option("--status", args->status, "pending | sending | delivered | failed")
      ->check(CLI::IsMember({"pending", "sending", "delivered", "failed"}))
      ->capture_default_str();
  ls->add_option("--limit", args->limit, "At most this many")->check(CLI::Range(1, 1000000))->capture_default_str();
  ls->callback([args, &exit_status] { exit_status = list(args->data, args->status, args->limit); });
  auto* rt = outbox->add_subcommand("retry", "Put failed deliveries back in the queue (all, or the one with KEY)");
  rt->add_option("key", args->key, "The delivery's key (from outbox list)");
  rt->add_option("--data", args->data, "Data directory (env TOUCHPOINT_DATA)");
  rt->callback([args, &exit_status] { exit_status = retry(args->data, args->key); });
}

void add_template(CLI::App& app, int& exit_status) {
  auto* tmpl = app.add_subcommand("template", "Message templates (docs/templates.md)");
  tmpl->require_subcommand(1);
  struct Args {
    std::string data = default_data_dir(), journeys = ".", name, channel = "email", user, event;
  };
  auto args = std::make_shared<Args>();
  auto* r = tmpl->add_subcommand("render", "Preview a message for one customer, as JSON");
  r->add_option("name", args->name, "The template's name (templates/NAME.CHANNEL.liquid)")->required();
  r->add_option("--user", args->user, "The customer's userId (their traits come from the data directory)")->required();
  r->add_option("--channel", args->channel, "email | sms | webhook")->capture_default_str();
  r->add_option("--journeys", args->journeys, "The journeys directory (its templates/ folder)")->capture_default_str();
  r->add_option("--event", args->event, "The entry message as JSON, for event.*");
  r->add_option("--data", args->data, "Data directory (env TOUCHPOINT_DATA)");
  r->callback([args, &exit_status] {
    exit_status = render(args->data, args->journeys, args->name, args->channel, args->user, args->event);
  });
}

}  // namespace tp::cli
