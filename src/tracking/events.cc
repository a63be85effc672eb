#include "tracking/events.h"

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/time_format.h"

namespace tp::tracking {
namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  // Token fields are checked UTF-8 when issued and verified; replace is a backstop only.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json base_message(std::string_view type, const LinkClaims& claims, std::string message_id, Timestamp now) {
  Json j;
  j["type"] = type;
  j["userId"] = claims.context.user_id;
  j["messageId"] = std::move(message_id);
  j["timestamp"] = format_iso8601(now);
  return j;
}

Json send_properties(const LinkClaims& claims) {
  Json p = Json::object();
  if (!claims.context.journey.empty()) p["journey"] = claims.context.journey;
  if (!claims.context.step.empty()) p["step"] = claims.context.step;
  p["messageKey"] = claims.context.message_key;
  return p;
}

void add_client(Json& j, const ClientInfo* client) {
  if (client == nullptr || (client->ip.empty() && client->user_agent.empty())) return;
  Json context = Json::object();
  if (!client->ip.empty()) context["ip"] = client->ip;
  if (!client->user_agent.empty()) context["userAgent"] = client->user_agent;
  j["context"] = std::move(context);
}

std::string millis_text(Timestamp t) { return std::to_string(t.time_since_epoch().count()); }

}  // namespace

std::string derive_message_id(std::string_view action, std::initializer_list<std::string_view> parts) {
  std::string data = "touchpoint tracking v1";
  for (std::string_view part : {action}) {
    data += std::to_string(part.size()) + ":";
    data += part;
  }
  for (std::string_view part : parts) {
    data += std::to_string(part.size()) + ":";
    data += part;
  }
  return "trk-" + std::string(action) + "-" + hex_encode(sha256(data)).substr(0, 32);
}

std::string email_opened_message(const LinkClaims& claims, Timestamp now, const ClientInfo* client) {
  Json j = base_message("track", claims,
                        derive_message_id("open", {claims.context.message_key, claims.context.user_id}), now);
  j["event"] = "Email Opened";
  j["properties"] = send_properties(claims);
  add_client(j, client);
  return dump(j);
}

std::string email_clicked_message(const LinkClaims& claims, Timestamp now, const ClientInfo* client) {
  Json j =
      base_message("track", claims,
                   derive_message_id("click", {claims.context.message_key, claims.context.user_id, claims.url}), now);
  j["event"] = "Email Clicked";
  Json properties = send_properties(claims);
  properties["url"] = claims.url;
  j["properties"] = std::move(properties);
  add_client(j, client);
  return dump(j);
}

std::vector<std::string> unsubscribe_messages(const LinkClaims& claims, const std::vector<Purpose>& purposes,
                                              Timestamp now) {
  Json track = base_message(
      "track", claims, derive_message_id("unsubscribe", {claims.context.message_key, claims.context.user_id}), now);
  track["event"] = "Unsubscribed";
  track["properties"] = send_properties(claims);

  Json identify = base_message(
      "identify", claims,
      derive_message_id("unsubscribe-identify", {claims.context.message_key, claims.context.user_id, millis_text(now)}),
      now);
  identify["traits"] = Json{{"unsubscribed", true}};
  Json preferences = Json::object();
  for (const Purpose& p : purposes) preferences[p.id] = false;
  identify["context"] = Json{{"consent", Json{{"categoryPreferences", std::move(preferences)}}}};
  return {dump(track), dump(identify)};
}

std::string preferences_message(const LinkClaims& claims, const std::map<std::string, bool>& choice, bool unsubscribed,
                                Timestamp now) {
  std::string summary;  // the choice, in a fixed order (std::map), for the messageId
  for (const auto& [id, on] : choice) summary += id + (on ? "=1;" : "=0;");
  Json j = base_message(
      "identify", claims,
      derive_message_id("preferences", {claims.context.message_key, claims.context.user_id, millis_text(now), summary}),
      now);
  j["traits"] = Json{{"unsubscribed", unsubscribed}};
  Json preferences = Json::object();
  for (const auto& [id, on] : choice) preferences[id] = on;
  j["context"] = Json{{"consent", Json{{"categoryPreferences", std::move(preferences)}}}};
  return dump(j);
}

}  // namespace tp::tracking
