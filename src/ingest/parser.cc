#include "ingest/parser.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "base/crypto.h"
#include "base/json_text.h"
#include "base/time_format.h"

namespace tp::ingest {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Status field_error(std::string_view field, std::string_view reason) {
  return invalid_argument(fmt::format("{}: {}", field, reason));
}

std::string_view kind_of(element e) {
  switch (e.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

std::optional<element> get(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

std::string path(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

// A string field; numbers are accepted for ids and converted, as Segment's libraries do.
Result<std::string> string_field(object o, std::string_view prefix, std::string_view key,
                                 bool allow_number) {
  auto e = get(o, key);
  if (!e) return std::string();
  if (e->is_string()) return std::string(e->get_string().value_unsafe());
  if (allow_number && (e->is_int64() || e->is_uint64())) return simdjson::minify(*e);
  return field_error(path(prefix, key), fmt::format("expected a string, got {}", kind_of(*e)));
}

// An optional object field, minified; "" when absent.
Result<std::string> object_field(object o, std::string_view prefix, std::string_view key) {
  auto e = get(o, key);
  if (!e) return std::string();
  if (!e->is_object())
    return field_error(path(prefix, key), fmt::format("expected an object, got {}", kind_of(*e)));
  return simdjson::minify(*e);
}

Result<std::optional<Timestamp>> time_field(object o, std::string_view prefix, std::string_view key) {
  auto e = get(o, key);
  if (!e) return std::optional<Timestamp>();
  if (!e->is_string())
    return field_error(path(prefix, key),
                       fmt::format("expected an ISO-8601 timestamp string, got {}", kind_of(*e)));
  std::string_view text = e->get_string().value_unsafe();
  auto t = parse_iso8601(text);
  if (!t)
    return field_error(path(prefix, key),
                       fmt::format("cannot parse {} as an ISO-8601 timestamp", json_string(text)));
  return std::optional<Timestamp>(*t);
}

std::optional<MessageType> type_from_name(std::string_view name) {
  if (name == "identify") return MessageType::kIdentify;
  if (name == "track") return MessageType::kTrack;
  if (name == "page") return MessageType::kPage;
  if (name == "screen") return MessageType::kScreen;
  if (name == "group") return MessageType::kGroup;
  if (name == "alias") return MessageType::kAlias;
  return std::nullopt;
}

void append_field(std::string& body, std::string_view key, std::string_view json_value) {
  if (json_value.empty()) return;
  body.push_back(',');
  append_json_string(body, key);
  body.push_back(':');
  body += json_value;
}

void append_string_field(std::string& body, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  body.push_back(',');
  append_json_string(body, key);
  body.push_back(':');
  append_json_string(body, value);
}

void append_time_field(std::string& body, std::string_view key, std::optional<Timestamp> t) {
  if (!t) return;
  body.push_back(',');
  append_json_string(body, key);
  body += ":\"";
  append_iso8601(body, *t);
  body.push_back('"');
}

// Batch-level values that apply to each message of a /v1/batch body.
struct Envelope {
  std::optional<Timestamp> sent_at;
  std::string context;       // minified, "" when absent
  std::string integrations;  // minified, "" when absent
};

Result<Message> parse_message(element e, std::string_view prefix, std::optional<MessageType> type,
                              const Envelope& envelope, Timestamp received_at, const Limits& limits) {
  if (!e.is_object())
    return field_error(prefix.empty() ? "body" : prefix,
                       fmt::format("expected a JSON object, got {}", kind_of(e)));
  object o = e.get_object().value_unsafe();
  Message m;

  // The type: from the endpoint, or from the message itself in a batch.
  auto type_e = get(o, "type");
  if (type_e) {
    if (!type_e->is_string())
      return field_error(path(prefix, "type"), fmt::format("expected a string, got {}", kind_of(*type_e)));
    std::string_view name = type_e->get_string().value_unsafe();
    auto named = type_from_name(name);
    if (!named)
      return field_error(path(prefix, "type"),
                         fmt::format("unknown message type {}; expected identify, track, page, "
                                     "screen, group or alias", json_string(name)));
    if (type && *type != *named)
      return field_error(path(prefix, "type"),
                         fmt::format("{} does not match the endpoint's type {}", json_string(name),
                                     json_string(type_name(*type))));
    type = named;
  }
  if (!type) return field_error(path(prefix, "type"), "missing; expected identify, track, page, screen, group or alias");
  m.type = *type;

  TP_ASSIGN(m.user_id, string_field(o, prefix, "userId", true));
  TP_ASSIGN(m.anonymous_id, string_field(o, prefix, "anonymousId", true));
  TP_ASSIGN(m.message_id, string_field(o, prefix, "messageId", true));
  if (m.user_id.empty() && m.anonymous_id.empty())
    return field_error(path(prefix, "userId"), "neither userId nor anonymousId is set; one is required");

  switch (m.type) {
    case MessageType::kTrack: {
      TP_ASSIGN(m.event, string_field(o, prefix, "event", false));
      if (m.event.empty()) return field_error(path(prefix, "event"), "missing; a track call needs an event name");
      break;
    }
    case MessageType::kPage:
    case MessageType::kScreen: {
      TP_ASSIGN(m.event, string_field(o, prefix, "name", false));
      break;
    }
    case MessageType::kGroup: {
      TP_ASSIGN(m.group_id, string_field(o, prefix, "groupId", true));
      if (m.group_id.empty()) return field_error(path(prefix, "groupId"), "missing; a group call needs a groupId");
      break;
    }
    case MessageType::kAlias: {
      TP_ASSIGN(m.previous_id, string_field(o, prefix, "previousId", true));
      if (m.previous_id.empty())
        return field_error(path(prefix, "previousId"), "missing; an alias call needs a previousId");
      if (m.user_id.empty()) return field_error(path(prefix, "userId"), "missing; an alias call needs a userId");
      break;
    }
    case MessageType::kIdentify:
      break;
  }

  TP_ASSIGN(std::string properties, object_field(o, prefix, "properties"));
  TP_ASSIGN(std::string traits, object_field(o, prefix, "traits"));
  TP_ASSIGN(std::string context, object_field(o, prefix, "context"));
  TP_ASSIGN(std::string integrations, object_field(o, prefix, "integrations"));
  if (context.empty()) context = envelope.context;
  if (integrations.empty()) integrations = envelope.integrations;
  std::string category;
  if (m.type == MessageType::kPage) {
    TP_ASSIGN(category, string_field(o, prefix, "category", false));
  }

  // Top-level traits become the profile's (identify) or the group's (group) attributes.
  if (!traits.empty() && (m.type == MessageType::kIdentify || m.type == MessageType::kGroup)) {
    object traits_object = o["traits"].get_object().value_unsafe();
    for (auto [key, value] : traits_object)
      m.traits.push_back({std::string(key), simdjson::minify(value)});
  }
  // Identify calls from analytics.js may put traits in context.traits for other calls; only
  // identify's own traits change the profile.

  // Consent, as Segment's Consent Management sends it.
  if (auto ctx = get(o, "context"); ctx && ctx->is_object()) {
    element prefs;
    if (ctx->at_pointer("/consent/categoryPreferences").get(prefs) == simdjson::SUCCESS) {
      if (!prefs.is_object())
        return field_error(path(prefix, "context.consent.categoryPreferences"),
                           fmt::format("expected an object, got {}", kind_of(prefs)));
      object prefs_object = prefs.get_object().value_unsafe();
      for (auto [key, value] : prefs_object) {
        if (!value.is_bool())
          return field_error(path(prefix, fmt::format("context.consent.categoryPreferences.{}", key)),
                             fmt::format("expected true or false, got {}", kind_of(value)));
        m.consent.emplace_back(std::string(key), value.get_bool().value_unsafe());
      }
    }
  }

  // Times, with Segment's clock-skew correction:
  //   timestamp = receivedAt - (sentAt - originalTimestamp)
  // where originalTimestamp is the client's own time for the event.
  TP_ASSIGN(auto timestamp, time_field(o, prefix, "timestamp"));
  TP_ASSIGN(auto original, time_field(o, prefix, "originalTimestamp"));
  TP_ASSIGN(auto sent_at, time_field(o, prefix, "sentAt"));
  if (!sent_at) sent_at = envelope.sent_at;
  auto client_time = original ? original : timestamp;
  m.received_at = received_at;
  if (client_time && sent_at)
    m.timestamp = received_at - (*sent_at - *client_time);
  else if (client_time)
    m.timestamp = *client_time;
  else
    m.timestamp = received_at;

  if (m.message_id.empty()) m.message_id = "tp-" + hex_encode(random_bytes(16));

  // The normalised body for the timeline.
  std::string& b = m.body;
  b.reserve(256 + properties.size() + traits.size() + context.size());
  b = "{\"type\":";
  append_json_string(b, type_name(m.type));
  append_string_field(b, m.type == MessageType::kTrack ? "event" : "name", m.event);
  append_string_field(b, "category", category);
  append_string_field(b, "messageId", m.message_id);
  append_string_field(b, "userId", m.user_id);
  append_string_field(b, "anonymousId", m.anonymous_id);
  append_string_field(b, "groupId", m.group_id);
  append_string_field(b, "previousId", m.previous_id);
  append_time_field(b, "timestamp", m.timestamp);
  append_time_field(b, "receivedAt", m.received_at);
  append_time_field(b, "sentAt", sent_at);
  append_time_field(b, "originalTimestamp", client_time);
  append_field(b, "properties", properties);
  append_field(b, "traits", traits);
  append_field(b, "context", context);
  append_field(b, "integrations", integrations);
  b.push_back('}');

  if (b.size() > limits.max_message_bytes)
    return Status(StatusCode::kTooLarge,
                  fmt::format("{}: message is {} bytes; the limit is {} bytes", prefix.empty() ? "body" : prefix,
                              b.size(), limits.max_message_bytes));
  return m;
}

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

Result<element> parse_json(std::string_view text) {
  element doc;
  auto err = thread_parser().parse(text.data(), text.size()).get(doc);
  if (err != simdjson::SUCCESS)
    return field_error("body", fmt::format("not valid JSON at byte offset {}", json_error_offset(text)));
  return doc;
}

Result<std::string> write_key_field(element doc) {
  if (!doc.is_object()) return std::string();
  return string_field(doc.get_object().value_unsafe(), "", "writeKey", false);
}

}  // namespace

std::string_view type_name(MessageType t) {
  switch (t) {
    case MessageType::kIdentify: return "identify";
    case MessageType::kTrack: return "track";
    case MessageType::kPage: return "page";
    case MessageType::kScreen: return "screen";
    case MessageType::kGroup: return "group";
    case MessageType::kAlias: return "alias";
  }
  return "track";
}

size_t json_error_offset(std::string_view text) {
  // A SAX pass that stops at the first error: no exceptions, no DOM.
  struct Locator final : nlohmann::json::json_sax_t {
    size_t offset = 0;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::json::exception&) override {
      offset = position > 0 ? position - 1 : 0;  // nlohmann counts from 1
      return false;
    }
  } locator;
  locator.offset = text.size();  // simdjson's stricter checks (depth, invalid UTF-8): point at the end
  nlohmann::json::sax_parse(text, &locator);
  return locator.offset;
}

Result<Parsed> parse_single(std::string_view body, MessageType type, Timestamp received_at,
                            const Limits& limits) {
  if (body.size() > limits.max_message_bytes)
    return Status(StatusCode::kTooLarge, fmt::format("body: request is {} bytes; the limit is {} bytes",
                                                     body.size(), limits.max_message_bytes));
  TP_ASSIGN(element doc, parse_json(body));
  Parsed out;
  TP_ASSIGN(out.write_key, write_key_field(doc));
  TP_ASSIGN(Message m, parse_message(doc, "", type, Envelope{}, received_at, limits));
  out.messages.push_back(std::move(m));
  return out;
}

Result<Parsed> parse_batch(std::string_view body, Timestamp received_at, const Limits& limits) {
  if (body.size() > limits.max_batch_bytes)
    return Status(StatusCode::kTooLarge, fmt::format("body: batch is {} bytes; the limit is {} bytes",
                                                     body.size(), limits.max_batch_bytes));
  TP_ASSIGN(element doc, parse_json(body));
  if (!doc.is_object()) return field_error("body", fmt::format("expected a JSON object, got {}", kind_of(doc)));
  object o = doc.get_object().value_unsafe();
  auto batch = get(o, "batch");
  if (!batch) return field_error("batch", "missing; expected an array of messages");
  if (!batch->is_array()) return field_error("batch", fmt::format("expected an array, got {}", kind_of(*batch)));
  Envelope envelope;
  TP_ASSIGN(envelope.sent_at, time_field(o, "", "sentAt"));
  TP_ASSIGN(envelope.context, object_field(o, "", "context"));
  TP_ASSIGN(envelope.integrations, object_field(o, "", "integrations"));
  Parsed out;
  TP_ASSIGN(out.write_key, write_key_field(doc));
  size_t index = 0;
  simdjson::dom::array messages = batch->get_array().value_unsafe();
  for (element e : messages) {
    TP_ASSIGN(Message m, parse_message(e, fmt::format("batch[{}]", index), std::nullopt, envelope,
                                       received_at, limits));
    out.messages.push_back(std::move(m));
    ++index;
  }
  return out;
}

Result<Message> parse_typed(std::string_view json, Timestamp received_at, const Limits& limits) {
  TP_ASSIGN(element doc, parse_json(json));
  return parse_message(doc, "", std::nullopt, Envelope{}, received_at, limits);
}

std::string error_field(const Status& s) {
  const std::string& m = s.message();
  auto colon = m.find(": ");
  return colon == std::string::npos ? std::string() : m.substr(0, colon);
}

}  // namespace tp::ingest
