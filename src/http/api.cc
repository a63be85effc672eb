#include "http/api.h"

#include <fmt/format.h>

#include <boost/beast/version.hpp>
#include <charconv>

#include "base/json_text.h"
#include "http/encoding.h"
#include "http/journeys_api.h"
#include "http/responses.h"
#include "profiles/card.h"

namespace tp::http {
namespace {

using beast_http::field;
using beast_http::status;
using ingest::MessageType;

void add_cors(Response& res) {
  res.set(field::access_control_allow_origin, "*");
  res.set(field::access_control_allow_methods, "POST, OPTIONS");
  res.set(field::access_control_allow_headers, "Content-Type, Authorization, Content-Encoding");
  res.set(field::access_control_max_age, "86400");
}

struct IngestEndpoint {
  std::string_view path;
  std::optional<MessageType> type;  // nullopt: batch
};

// The Segment HTTP API paths, and the one-letter ones analytics.js uses.
constexpr IngestEndpoint kIngestEndpoints[] = {
    {"/v1/identify", MessageType::kIdentify}, {"/v1/track", MessageType::kTrack},
    {"/v1/page", MessageType::kPage},         {"/v1/screen", MessageType::kScreen},
    {"/v1/group", MessageType::kGroup},       {"/v1/alias", MessageType::kAlias},
    {"/v1/batch", std::nullopt},              {"/v1/import", std::nullopt},
    {"/v1/i", MessageType::kIdentify},        {"/v1/t", MessageType::kTrack},
    {"/v1/p", MessageType::kPage},            {"/v1/s", MessageType::kScreen},
    {"/v1/g", MessageType::kGroup},           {"/v1/a", MessageType::kAlias},
    {"/v1/b", std::nullopt},
};

const IngestEndpoint* find_ingest_endpoint(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (const auto& e : kIngestEndpoints)
    if (e.path == path) return &e;
  return nullptr;
}

}  // namespace

Api::Api(ApiDeps deps)
    : d_(deps),
      events_accepted_(d_.metrics.counter("touchpoint_events_accepted_total", "Messages acknowledged to clients")),
      events_rejected_(d_.metrics.counter("touchpoint_events_rejected_total",
                                          "Messages in requests answered with an error")),
      request_seconds_(d_.metrics.histogram("touchpoint_http_request_seconds", "HTTP request latency",
                                            latency_bounds())) {}

void Api::handle(Request&& request, Respond respond) {
  auto started = std::chrono::steady_clock::now();
  std::string_view target = request.target();
  auto qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  std::string_view query = qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);

  std::string route = "other";
  if (find_ingest_endpoint(path) != nullptr) route = std::string(find_ingest_endpoint(path)->path);
  else if (path.rfind("/api/v1/profiles/", 0) == 0) route = path.ends_with("/export") ? "/api/v1/profiles/{userId}/export" : "/api/v1/profiles/{userId}";
  else if (path == "/healthz" || path == "/metrics") route = std::string(path);
  else if (path.rfind("/api/v1/journeys", 0) == 0) route = path.ends_with("/stats") ? "/api/v1/journeys/{id}/stats" : path.ends_with("/enter") ? "/api/v1/journeys/{id}/enter" : "/api/v1/journeys";
  else if (path.rfind("/t/", 0) == 0) route = "/t/{kind}/{token}";
  else if (path.rfind("/api/v1/tasks", 0) == 0) route = path.ends_with("/done") ? "/api/v1/tasks/{id}/done" : "/api/v1/tasks";
  else if (path.rfind("/api/v1/templates/", 0) == 0) route = "/api/v1/templates/{name}/preview";
  else if (path == "/api/v1/bounces" || path == kSmsReceiptPath) route = std::string(path);

  // Count every answer by route and status code.
  Respond counted = [this, route, started, respond = std::move(respond)](Response res) {
    d_.metrics
        .counter("touchpoint_http_requests_total", "HTTP requests by route and status code",
                 fmt::format("route=\"{}\",code=\"{}\"", route, res.result_int()))
        .add();
    request_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    respond(std::move(res));
  };

  if (find_ingest_endpoint(path) != nullptr) return ingest(request, path, std::move(counted));
  if (d_.tracking && tracking::TrackingHandler::handles(path)) {
    // Open pixel, click redirect, unsubscribe and preference pages: no key, the link is signed.
    tracking::TrackingRequest t{std::string(request.method_string()), std::string(path), std::string(query),
                                request.body(), std::string(request[field::content_type]), "",
                                std::string(request[field::user_agent])};
    return d_.tracking->handle(t, [counted](tracking::TrackingResponse r) {
      Response res{static_cast<status>(r.status), 11};
      res.set(field::content_type, r.content_type);
      res.set(field::server, "touchpoint");
      for (const auto& [name, value] : r.headers) res.set(name, value);
      res.body() = std::move(r.body);
      counted(std::move(res));
    });
  }
  if (path == kSmsReceiptPath) return handle_sms_receipt(d_.journeys, d_.writer, d_.clock, request, counted);
  if (path == "/healthz") {
    if (request.method() != beast_http::verb::get && request.method() != beast_http::verb::head)
      return counted(error_response(status::method_not_allowed, "use GET"));
    return counted(json_response(status::ok, R"({"status":"ok"})"));
  }
  if (path == "/metrics") {
    if (request.method() != beast_http::verb::get) return counted(error_response(status::method_not_allowed, "use GET"));
    Response res{status::ok, 11};
    res.set(field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = d_.metrics.render();
    return counted(std::move(res));
  }
  if (path.rfind("/api/v1/", 0) == 0) return management(request, path, query, std::move(counted));
  counted(error_response(status::not_found, fmt::format("no endpoint at {}", json_string(path))));
}

void Api::ingest(Request& request, std::string_view path, Respond respond) {
  const IngestEndpoint& endpoint = *find_ingest_endpoint(path);
  if (request.method() == beast_http::verb::options) {
    Response res{status::no_content, 11};
    add_cors(res);
    return respond(std::move(res));
  }
  auto reply = [respond](Response res) {
    add_cors(res);
    respond(std::move(res));
  };
  if (request.method() != beast_http::verb::post) {
    Response res = error_response(status::method_not_allowed, fmt::format("{} accepts POST only", endpoint.path));
    res.set(field::allow, "POST, OPTIONS");
    return reply(std::move(res));
  }
  size_t limit = endpoint.type ? d_.limits.max_message_bytes : d_.limits.max_batch_bytes;

  // The write key: HTTP Basic user name, or "writeKey" in the body (analytics.js).
  std::optional<std::string> key;
  std::string_view authorization = request[field::authorization];
  if (!authorization.empty()) {
    key = basic_user(authorization);
    if (!key) return reply(error_response(status::unauthorized, "Authorization must be HTTP Basic with the write key as user name"));
  }

  std::string inflated;
  std::string_view body = request.body();
  std::string_view encoding = request[field::content_encoding];
  if (encoding == "gzip" || encoding == "deflate") {
    auto r = gunzip(body, limit);
    if (!r.is_ok()) {
      events_rejected_.add();
      return reply(status_response(r.status()));
    }
    inflated = std::move(r).value();
    body = inflated;
  } else if (!encoding.empty() && encoding != "identity") {
    return reply(error_response(status::unsupported_media_type,
                                fmt::format("Content-Encoding {} is not supported; use gzip", json_string(encoding))));
  }

  auto check_key = [&](const std::string& k) -> std::optional<Response> {
    auto kind = d_.keys.lookup(k);
    if (!kind.is_ok()) return status_response(kind.status());
    if (!*kind || **kind != storage::KeyKind::kWrite)
      return error_response(status::unauthorized, "unknown write key");
    return std::nullopt;
  };
  if (key) {
    if (auto denied = check_key(*key)) return reply(std::move(*denied));
  }

  Timestamp received_at = d_.clock.now();
  auto parsed = endpoint.type ? ingest::parse_single(body, *endpoint.type, received_at, d_.limits)
                              : ingest::parse_batch(body, received_at, d_.limits);
  if (!key) {
    if (!parsed.is_ok() || parsed->write_key.empty())
      return reply(error_response(status::unauthorized,
                                  "missing write key: send it as the HTTP Basic user name"));
    if (auto denied = check_key(parsed->write_key)) return reply(std::move(*denied));
  }
  if (!parsed.is_ok()) {
    events_rejected_.add();
    return reply(status_response(parsed.status()));
  }
  size_t count = parsed->messages.size();
  d_.writer.submit_durable(std::move(parsed->messages), [this, count, reply](const profiles::WriteOutcome& outcome) {
    if (!outcome.status.is_ok()) {
      events_rejected_.add(static_cast<long long>(count));
      return reply(status_response(outcome.status));
    }
    events_accepted_.add(static_cast<long long>(count));
    reply(json_response(status::ok, R"({"success":true})"));
  });
}

void Api::management(Request& request, std::string_view path, std::string_view query, Respond respond) {
  auto token = bearer_token(request[field::authorization]);
  if (!token) return respond(error_response(status::unauthorized, "missing admin key: send Authorization: Bearer <admin key>"));
  auto kind = d_.keys.lookup(*token);
  if (!kind.is_ok()) return respond(status_response(kind.status()));
  if (!*kind || **kind != storage::KeyKind::kAdmin) return respond(error_response(status::unauthorized, "unknown admin key"));

  if (handle_journey_api(d_.journeys, d_.readers, d_.writer, d_.clock, request, path, query, respond)) return;
  constexpr std::string_view kProfiles = "/api/v1/profiles/";
  if (path.rfind(kProfiles, 0) != 0)
    return respond(error_response(status::not_found, fmt::format("no endpoint at {}", json_string(path))));
  std::string_view rest = path.substr(kProfiles.size());
  bool is_export = false;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/export")
      return respond(error_response(status::not_found, fmt::format("no endpoint at {}", json_string(path))));
    is_export = true;
    rest = rest.substr(0, slash);
  }
  auto user_id = percent_decode(rest);
  if (!user_id || user_id->empty())
    return respond(error_response(status::bad_request, "userId: missing or malformed in the path", "userId"));
  auto verb = request.method();

  if (verb == beast_http::verb::delete_ && !is_export) {
    return d_.writer.erase(*user_id, [respond, runner = d_.journeys.runner, user = *user_id](const profiles::WriteOutcome& outcome) {
      if (!outcome.status.is_ok()) return respond(status_response(outcome.status));
      auto erased = [respond](const Status& s) {
        if (!s.is_ok()) return respond(status_response(s));
        respond(json_response(status::ok, R"({"success":true,"erased":true})"));
      };
      // Their journey state goes too (instances, outbox rows, tasks).
      if (runner) return runner->erase(user, erased);
      erased(Status::ok());
    });
  }
  if (verb != beast_http::verb::get) {
    Response res = error_response(status::method_not_allowed, is_export ? "use GET" : "use GET or DELETE");
    res.set(field::allow, is_export ? "GET" : "GET, DELETE");
    return respond(std::move(res));
  }

  profiles::CardQuery card_query;
  if (!is_export) {
    auto params = parse_query(query);
    if (!params.is_ok()) return respond(status_response(params.status()));
    if (auto it = params->find("limit"); it != params->end()) {
      int limit = 0;
      auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), limit);
      if (ec != std::errc() || ptr != it->second.data() + it->second.size() || limit < 1 || limit > 1000)
        return respond(error_response(status::bad_request,
                                      fmt::format("limit: {} is not a number from 1 to 1000", json_string(it->second)),
                                      "limit"));
      card_query.limit = limit;
    }
    if (auto it = params->find("before"); it != params->end()) {
      auto cursor = profiles::parse_cursor(it->second);
      if (!cursor.is_ok()) return respond(error_response(status::bad_request, cursor.status().message(), "before"));
      card_query.before = *cursor;
    }
  }
  // The card shows everything acknowledged before the read: wait for the intake log's backlog
  // (at once when there is none; otherwise on the writer's thread once it is applied).
  d_.writer.when_applied([this, respond, is_export, card_query, user = *user_id](const profiles::WriteOutcome& applied) {
    if (!applied.status.is_ok()) return respond(status_response(applied.status));
    std::string body;
    Status s = d_.readers.with_reader([&](storage::Reader& reader) -> Status {
      auto r = is_export ? profiles::render_export(reader, user) : profiles::render_card(reader, user, card_query);
      TP_TRY(r);
      body = std::move(r).value();
      return Status::ok();
    });
    if (!s.is_ok()) return respond(status_response(s));
    respond(json_response(status::ok, std::move(body)));
  });
}

}  // namespace tp::http
