#include "tracking/bounces.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/time_format.h"
#include "tracking/events.h"
#include "tracking/links.h"

namespace tp::tracking {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxEmailBytes = 254;  // RFC 5321 path limit

std::string_view kind_of(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    default:
      return "something else";
  }
}

// The string at `key`; nullopt when absent. Errors when present and not a string.
Result<std::optional<std::string>> string_field(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::optional<std::string>();
  if (!it->is_string()) return invalid_argument(fmt::format("{}: expected a string, got {}", key, kind_of(*it)));
  return std::optional<std::string>(it->get<std::string>());
}

std::string_view type_name(BounceType type) {
  switch (type) {
    case BounceType::kHard:
      return "hard";
    case BounceType::kSoft:
      return "soft";
    case BounceType::kComplaint:
      return "complaint";
  }
  return "";
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 character.
std::string cut_utf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

Result<BounceReport> parse_bounce_report(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return invalid_argument("body: not valid JSON");
  if (!j.is_object()) return invalid_argument(fmt::format("body: expected a JSON object, got {}", kind_of(j)));
  BounceReport report;

  TP_ASSIGN(auto email, string_field(j, "email"));
  if (!email || email->empty()) return invalid_argument("email: required");
  size_t at = email->rfind('@');
  bool plain = email->size() <= kMaxEmailBytes && valid_utf8(*email);
  for (char c : *email)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) plain = false;
  if (!plain || at == std::string::npos || at == 0 || at + 1 == email->size())
    return invalid_argument(fmt::format("email: '{}' is not an email address", email->substr(0, 100)));
  report.email = std::move(*email);

  TP_ASSIGN(auto type, string_field(j, "type"));
  if (!type) return invalid_argument("type: required (hard, soft or complaint)");
  if (*type == "hard")
    report.type = BounceType::kHard;
  else if (*type == "soft")
    report.type = BounceType::kSoft;
  else if (*type == "complaint")
    report.type = BounceType::kComplaint;
  else
    return invalid_argument(fmt::format("type: '{}' is not one of hard, soft, complaint", type->substr(0, 40)));

  TP_ASSIGN(auto key, string_field(j, "messageKey"));
  if (key) {
    if (key->size() > kMaxTokenFieldBytes)
      return invalid_argument(fmt::format("messageKey: longer than {} bytes", kMaxTokenFieldBytes));
    report.message_key = std::move(*key);
  }
  TP_ASSIGN(auto reason, string_field(j, "reason"));
  if (reason) report.reason = cut_utf8(std::move(*reason), kMaxBounceReasonBytes);
  return report;
}

Result<std::vector<std::string>> bounce_messages(const BounceReport& report, std::string_view user_id, Timestamp now) {
  if (user_id.empty()) return invalid_argument("userId: required");
  if (user_id.size() > kMaxTokenFieldBytes || !valid_utf8(user_id))
    return invalid_argument(fmt::format("userId: longer than {} bytes or not valid UTF-8", kMaxTokenFieldBytes));
  const bool complaint = report.type == BounceType::kComplaint;
  const std::string_view type = type_name(report.type);
  const std::string_view action = complaint ? "complaint" : "bounce";
  auto message_id = [&](std::string_view suffix) {
    return derive_message_id(std::string(action) + std::string(suffix),
                             {user_id, report.email, type, report.message_key, report.reason});
  };
  auto dump = [](const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); };

  std::vector<std::string> out;
  Json track;
  track["type"] = "track";
  track["userId"] = user_id;
  track["messageId"] = message_id("");
  track["timestamp"] = format_iso8601(now);
  track["event"] = complaint ? "Email Complained" : "Email Bounced";
  Json properties = Json::object();
  if (!report.message_key.empty()) properties["messageKey"] = report.message_key;
  if (!complaint) properties["type"] = type;
  properties["email"] = report.email;
  if (!report.reason.empty()) properties["reason"] = report.reason;
  track["properties"] = std::move(properties);
  out.push_back(dump(track));

  if (report.type != BounceType::kSoft) {
    Json identify;
    identify["type"] = "identify";
    identify["userId"] = user_id;
    identify["messageId"] = message_id("-identify");
    identify["timestamp"] = format_iso8601(now);
    identify["traits"] = Json{{"email_status", complaint ? "complained" : "bounced"}};
    out.push_back(dump(identify));
  }
  return out;
}

Result<std::vector<std::string>> bounce_messages(std::string_view json, std::string_view user_id, const Clock& clock) {
  TP_ASSIGN(BounceReport report, parse_bounce_report(json));
  return bounce_messages(report, user_id, clock.now());
}

}  // namespace tp::tracking
