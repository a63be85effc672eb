#include "http/journeys_api.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/json_text.h"
#include "base/time_format.h"
#include "delivery/deliverer.h"
#include "http/encoding.h"
#include "http/responses.h"
#include "ingest/parser.h"
#include "tracking/bounces.h"

namespace tp::http {
namespace {

using beast_http::status;
using beast_http::verb;
using Json = nlohmann::json;

constexpr std::string_view kJourneys = "/api/v1/journeys";
constexpr std::string_view kTasks = "/api/v1/tasks";
constexpr std::string_view kBounces = "/api/v1/bounces";
constexpr std::string_view kTemplates = "/api/v1/templates/";

std::string_view send_type_name(journeys::SendType t) {
  return t == journeys::SendType::kTransactional ? "transactional" : "commercial";
}

std::string_view entry_kind(const journeys::Trigger& t) {
  if (!t.event.empty()) return "event";
  if (t.becomes_true) return "becomes";
  if (!t.date_trait.empty()) return "date";
  return "api";
}

Json task_json(const storage::TaskRow& t) {
  Json j = {{"id", t.id},          {"userId", t.user_id},        {"journey", t.journey},
            {"step", t.step},      {"template", t.template_name}, {"assignee", t.assignee},
            {"createdAt", format_iso8601(t.created)}};
  j["doneAt"] = t.done ? Json(format_iso8601(*t.done)) : Json();
  return j;
}

Response method_not_allowed(const char* allow) {
  Response res = error_response(status::method_not_allowed, fmt::format("use {}", allow));
  res.set(beast_http::field::allow, allow);
  return res;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

const journeys::Journey* find_journey(const journeys::Runner& runner, std::string_view id) {
  for (const auto* j : runner.journeys())
    if (j->id == id) return j;
  return nullptr;
}

Response list_journeys(const JourneyApiDeps& d) {
  Json out = Json::array();
  if (d.runner) {
    for (const auto* j : d.runner->journeys()) {
      auto active = d.store->active_by_step(j->id);
      if (!active.is_ok()) return status_response(active.status());
      std::int64_t total = 0;
      for (const auto& c : *active) total += c.count;
      out.push_back({{"id", j->id},
                     {"name", j->name},
                     {"version", j->version},
                     {"file", j->file},
                     {"status", j->status},
                     {"priority", j->priority},
                     {"send_type", send_type_name(j->send_type)},
                     {"owner", j->owner},
                     {"entry", entry_kind(j->entry)},
                     {"steps", j->steps.size()},
                     {"active", total}});
    }
  }
  return json_response(status::ok, Json{{"journeys", std::move(out)}}.dump());
}

Response journey_stats(const JourneyApiDeps& d, const journeys::Journey& j) {
  auto counts = d.store->step_counts(j.id);
  if (!counts.is_ok()) return status_response(counts.status());
  // Every step of the current version, in file order, then steps only earlier versions had.
  std::vector<std::string> order;
  for (const auto& step : j.steps) order.push_back(step.id);
  std::map<std::string, Json> rows;
  auto row = [&](const std::string& step) -> Json& {
    auto [it, fresh] = rows.try_emplace(step);
    if (fresh) {
      it->second = {{"step", step}, {"entered", 0}, {"waiting", 0}, {"sent", 0}, {"suppressed", 0}, {"goal", 0},
                    {"exited", 0}, {"task", 0}, {"update", 0}, {"webhook", 0}, {"delivered", 0}, {"failed", 0},
                    {"opened", 0}, {"clicked", 0}, {"unsubscribed", 0}, {"bounced", 0}};
      if (std::find(order.begin(), order.end(), step) == order.end()) order.push_back(step);
    }
    return it->second;
  };
  for (const auto& step : j.steps) row(step.id);
  std::int64_t total_active = 0;
  for (const auto& c : *counts) {
    row(c.step)[c.metric] = c.count;
    if (c.metric == "waiting") total_active += c.count;
  }
  Json steps = Json::array();
  for (const auto& step : order) steps.push_back(std::move(rows[step]));
  Json out = {{"journey", j.id}, {"version", j.version}, {"active", total_active}, {"steps", std::move(steps)}};
  return json_response(status::ok, out.dump());
}

void enter(const JourneyApiDeps& d, profiles::ProfileWriter& writer, const Clock& clock, const journeys::Journey& j,
           const std::string& body, const Respond& respond) {
  if (!j.entry.api)
    return respond(error_response(status::conflict,
                                  fmt::format("journey {} has no api entry (entry: {{api: true}})", json_string(j.id))));
  Json request = Json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (request.is_discarded() || !request.is_object())
    return respond(error_response(status::bad_request, "the body must be a JSON object: {\"userId\": \"…\", \"properties\": {…}}"));
  auto user = request.find("userId");
  if (user == request.end() || !user->is_string() || user->get<std::string>().empty())
    return respond(error_response(status::bad_request, "userId: required, a non-empty string", "userId"));
  Json properties = request.value("properties", Json::object());
  if (!properties.is_object())
    return respond(error_response(status::bad_request, "properties: must be an object", "properties"));
  properties["journey"] = j.id;
  Timestamp now = clock.now();
  // The request becomes an event on the person's timeline; the runner enters them from it, so
  // the call is as durable, ordered and idempotent (messageId) as any ingested event.
  Json message = {{"type", "track"},
                  {"userId", *user},
                  {"event", "Journey Entry Requested"},
                  {"properties", std::move(properties)},
                  {"messageId", request.value("messageId", "enter-" + hex_encode(random_bytes(12)))},
                  {"timestamp", format_iso8601(now)}};
  auto parsed = ingest::parse_typed(message.dump(), now);
  if (!parsed.is_ok()) return respond(status_response(parsed.status()));
  std::string message_id = parsed->message_id;
  std::vector<ingest::Message> batch;
  batch.push_back(std::move(parsed).value());
  writer.submit(std::move(batch), [respond, message_id, runner = d.runner](const profiles::WriteOutcome& outcome) {
    if (!outcome.status.is_ok()) return respond(status_response(outcome.status));
    runner->notify();
    Json out = {{"success", true}, {"messageId", message_id}, {"duplicate", outcome.duplicates > 0}};
    respond(json_response(status::accepted, out.dump()));
  });
}

void tasks(const JourneyApiDeps& d, const Clock& clock, Request& request, std::string_view rest, std::string_view query,
           const Respond& respond) {
  if (rest.empty()) {
    if (request.method() != verb::get) return respond(method_not_allowed("GET"));
    auto params = parse_query(query);
    if (!params.is_ok()) return respond(status_response(params.status()));
    std::optional<std::string> assignee;
    if (auto it = params->find("assignee"); it != params->end()) assignee = it->second;
    std::int64_t limit = 100;
    if (auto it = params->find("limit"); it != params->end()) {
      auto v = parse_int(it->second);
      if (!v || *v < 1 || *v > 1000)
        return respond(error_response(status::bad_request,
                                      fmt::format("limit: {} is not a number from 1 to 1000", json_string(it->second)), "limit"));
      limit = *v;
    }
    Json out = Json::array();
    if (d.store) {
      auto rows = d.store->open_tasks(assignee, static_cast<int>(limit));
      if (!rows.is_ok()) return respond(status_response(rows.status()));
      for (const auto& t : *rows) out.push_back(task_json(t));
    }
    return respond(json_response(status::ok, Json{{"tasks", std::move(out)}}.dump()));
  }
  // /{id}/done
  auto slash = rest.find('/');
  auto id = parse_int(rest.substr(0, slash));
  if (!id || slash == std::string_view::npos || rest.substr(slash) != "/done")
    return respond(error_response(status::not_found, fmt::format("no endpoint at {}{}", kTasks, json_string(rest))));
  if (request.method() != verb::post) return respond(method_not_allowed("POST"));
  if (!d.store) return respond(error_response(status::not_found, fmt::format("no task {}", *id)));
  auto task = d.store->complete_task(*id, clock.now());
  if (!task.is_ok()) return respond(status_response(task.status()));
  if (!*task) return respond(error_response(status::not_found, fmt::format("no task {}", *id)));
  respond(json_response(status::ok, Json{{"success", true}, {"task", task_json(**task)}}.dump()));
}

// Hands Segment messages (JSON text) to the writer; `done` once they are durable.
void submit_messages(profiles::ProfileWriter& writer, const Clock& clock, const std::vector<std::string>& messages,
                     const Respond& respond, std::function<void()> done) {
  std::vector<ingest::Message> batch;
  for (const auto& text : messages) {
    auto parsed = ingest::parse_typed(text, clock.now());
    if (!parsed.is_ok()) return respond(status_response(parsed.status()));
    batch.push_back(std::move(parsed).value());
  }
  writer.submit(std::move(batch), [respond, done = std::move(done)](const profiles::WriteOutcome& outcome) {
    if (!outcome.status.is_ok()) return respond(status_response(outcome.status));
    done();
  });
}

// An inbound bounce or complaint report (docs/tracking.md): events on the person's card, and
// after a hard bounce or a complaint the trait email_status, which stops email to the address.
void bounce(profiles::ProfileWriter& writer, const Clock& clock, const std::string& body, const Respond& respond) {
  Json report = Json::parse(body, nullptr, false);
  if (report.is_discarded() || !report.is_object())
    return respond(error_response(status::bad_request,
                                  "the body must be a JSON object: {\"userId\", \"email\", \"type\": hard|soft|complaint}"));
  auto user = report.find("userId");
  if (user == report.end() || !user->is_string() || user->get<std::string>().empty())
    return respond(error_response(status::bad_request, "userId: required, a non-empty string", "userId"));
  auto messages = tracking::bounce_messages(body, user->get<std::string>(), clock);
  if (!messages.is_ok()) {
    const std::string& m = messages.status().message();
    return respond(error_response(status::bad_request, m, m.substr(0, m.find(':'))));
  }
  submit_messages(writer, clock, *messages, respond,
                  [respond] { respond(json_response(status::accepted, R"({"success":true})")); });
}

// GET /api/v1/templates/{name}/preview?userId=&channel= or POST with {"userId", "channel",
// "event"}: the message as it would go to that person now.
void preview(const JourneyApiDeps& d, storage::ReaderPool& readers, Request& request, std::string_view rest,
             std::string_view query, const Respond& respond) {
  auto slash = rest.find('/');
  auto name = percent_decode(rest.substr(0, slash));
  if (!name || name->empty() || slash == std::string_view::npos || rest.substr(slash) != "/preview")
    return respond(error_response(status::not_found, fmt::format("no endpoint at {}{}", kTemplates, json_string(rest))));
  Json input = Json::object();
  if (request.method() == verb::get) {
    auto params = parse_query(query);
    if (!params.is_ok()) return respond(status_response(params.status()));
    for (const auto& [k, v] : *params) input[k] = v;
  } else if (request.method() == verb::post) {
    input = Json::parse(request.body(), nullptr, false);
    if (input.is_discarded() || !input.is_object())
      return respond(error_response(status::bad_request,
                                    "the body must be a JSON object: {\"userId\", \"channel\", \"event\"}"));
  } else {
    return respond(method_not_allowed("GET, POST"));
  }
  auto user = input.find("userId");
  if (user == input.end() || !user->is_string() || user->get<std::string>().empty())
    return respond(error_response(status::bad_request, "userId: required, a non-empty string", "userId"));
  std::string channel_name = input.value("channel", Json("email")).is_string() ? input.value("channel", "email") : "";
  auto channel = templates::parse_channel(channel_name);
  if (!channel) return respond(error_response(status::bad_request, "channel: must be email, sms or webhook", "channel"));
  Json event = input.value("event", Json::object());
  if (!event.is_object()) return respond(error_response(status::bad_request, "event: must be a JSON object", "event"));
  if (!d.templates) return respond(error_response(status::not_found, "no templates: start serve with --journeys DIR"));
  Result<templates::RenderedMessage> rendered = not_found("");
  Status read = readers.with_reader([&](storage::Reader& reader) {
    rendered = delivery::preview_message(reader, *d.templates, *name, *channel, user->get<std::string>(), event);
    return Status::ok();
  });
  if (!read.is_ok()) return respond(status_response(read));
  if (!rendered.is_ok()) return respond(status_response(rendered.status()));
  respond(json_response(status::ok, rendered->to_json().dump()));
}

}  // namespace

void handle_sms_receipt(const JourneyApiDeps& d, profiles::ProfileWriter& writer, const Clock& clock, Request& request,
                        const Respond& respond) {
  if (request.method() != verb::post) return respond(method_not_allowed("POST"));
  if (!d.sms || !d.store || d.sms->status_callback_url.empty())
    return respond(error_response(status::not_found,
                                  "SMS delivery receipts are off: set channels.sms.status_callback_url in touchpoint.yaml"));
  std::string_view signature = request["X-Twilio-Signature"];
  if (signature.empty())
    return respond(error_response(status::unauthorized, "X-Twilio-Signature: required (the provider signs receipts)",
                                  "X-Twilio-Signature"));
  if (!channels::valid_sms_callback_signature(*d.sms, signature, request.body()))
    return respond(error_response(status::forbidden,
                                  "X-Twilio-Signature: does not match the body, the token and status_callback_url",
                                  "X-Twilio-Signature"));
  auto receipt = channels::parse_sms_status_callback(request.body());
  if (!receipt.is_ok()) return respond(error_response(status::bad_request, receipt.status().message()));
  auto recorded = [respond](bool yes) {
    respond(json_response(status::ok, yes ? R"({"success":true,"recorded":true})" : R"({"success":true,"recorded":false})"));
  };
  // Only final statuses are events; "queued", "sent" … are acknowledged and dropped.
  if (!receipt->final()) return recorded(false);
  auto row = d.store->delivery_by_provider_id("sms", receipt->message_sid);
  if (!row.is_ok()) return respond(status_response(row.status()));
  if (!*row) return recorded(false);  // not a message of ours (or of an erased person)
  bool arrived = receipt->status == channels::SmsStatus::kDelivered || receipt->status == channels::SmsStatus::kRead;
  Json properties = {{"journey", (*row)->journey},   {"step", (*row)->step},       {"channel", "sms"},
                     {"messageKey", (*row)->key},    {"status", receipt->raw_status}, {"providerId", receipt->message_sid}};
  if (!receipt->error_code.empty()) properties["errorCode"] = receipt->error_code;
  Json message = {{"type", "track"},
                  {"userId", (*row)->user_id},
                  {"event", arrived ? "SMS Delivered" : "SMS Undelivered"},
                  {"messageId", "sms-receipt-" + receipt->message_sid + "-" + receipt->raw_status},
                  {"timestamp", format_iso8601(clock.now())},
                  {"properties", std::move(properties)},
                  {"context", {{"source", "touchpoint-delivery"}}}};
  submit_messages(writer, clock, {message.dump()}, respond, [recorded] { recorded(true); });
}

bool handle_journey_api(const JourneyApiDeps& d, storage::ReaderPool& readers, profiles::ProfileWriter& writer,
                        const Clock& clock, Request& request, std::string_view path, std::string_view query,
                        const Respond& respond) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path.rfind(kTemplates, 0) == 0) {
    preview(d, readers, request, path.substr(kTemplates.size()), query, respond);
    return true;
  }
  if (path == kBounces) {
    if (request.method() != verb::post) respond(method_not_allowed("POST"));
    else bounce(writer, clock, request.body(), respond);
    return true;
  }
  if (path == kTasks || path.rfind(std::string(kTasks) + "/", 0) == 0) {
    tasks(d, clock, request, path.substr(std::min(path.size(), kTasks.size() + 1)), query, respond);
    return true;
  }
  if (path != kJourneys && path.rfind(std::string(kJourneys) + "/", 0) != 0) return false;
  if (path == kJourneys) {
    respond(request.method() == verb::get ? list_journeys(d) : method_not_allowed("GET"));
    return true;
  }
  std::string_view rest = path.substr(kJourneys.size() + 1);
  auto slash = rest.find('/');
  std::string_view id = rest.substr(0, slash);
  std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (!d.runner) {
    respond(error_response(status::not_found, "journeys are not running: start serve with --journeys DIR"));
    return true;
  }
  const journeys::Journey* j = find_journey(*d.runner, id);
  if (!j) {
    respond(error_response(status::not_found, fmt::format("no journey {}", json_string(id))));
    return true;
  }
  if (action == "stats") {
    respond(request.method() == verb::get ? journey_stats(d, *j) : method_not_allowed("GET"));
  } else if (action == "enter") {
    if (request.method() != verb::post) respond(method_not_allowed("POST"));
    else enter(d, writer, clock, *j, request.body(), respond);
  } else {
    respond(error_response(status::not_found, fmt::format("no endpoint at {}", json_string(path))));
  }
  return true;
}

}  // namespace tp::http
