#include "tracking/tracking_handler.h"

#include <fmt/format.h>

#include <atomic>
#include <set>

#include "tracking/events.h"
#include "tracking/form.h"
#include "tracking/pages.h"

namespace tp::tracking {
namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";

// GIF89a, 1×1, a 2-colour global table, colour 0 transparent (graphic control extension), one
// pixel of colour 0: LZW minimum code size 2, codes clear(4) 0 end(5) at 3 bits each, packed
// LSB first = 0x44 0x01.
constexpr unsigned char kGif[] = {
    'G',  'I',  'F',  '8',  '9',  'a',                           // header
    0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00,                    // screen 1×1, global table of 2 entries
    0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,                          // colours: black, white
    0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,              // graphic control: transparent index 0
    0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,  // image at 0,0, 1×1
    0x02, 0x02, 0x44, 0x01, 0x00,                                // LZW data
    0x3B,                                                        // trailer
};

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

// A URL for a Location header: bytes that may not appear in a header or a URL (controls, space,
// non-ASCII) percent-encoded, as a browser would request them.
std::string location_value(std::string_view url) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(url.size());
  for (char ch : url) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// Hands `messages` to the sink and answers with `ok_response` or `failed_response` once `done`
// is called (the first call only).
void record_then_respond(const MessageSink& sink, std::vector<std::string> messages, TrackingResponse ok_response,
                         TrackingResponse failed_response, TrackingRespond respond) {
  auto called = std::make_shared<std::atomic<bool>>(false);
  sink(std::move(messages), [called, ok_response = std::move(ok_response), failed_response = std::move(failed_response),
                             respond = std::move(respond)](bool ok) {
    if (called->exchange(true)) return;
    respond(ok ? ok_response : failed_response);
  });
}

}  // namespace

std::string_view transparent_gif() { return {reinterpret_cast<const char*>(kGif), sizeof(kGif)}; }

Result<std::unique_ptr<TrackingHandler>> TrackingHandler::create(TrackingConfig config, MessageSink sink,
                                                                 const Clock& clock, ConsentLookup consent) {
  TP_TRY(validate_tracking_config(config));
  if (config.secret.empty())
    return invalid_argument("tracking.secret: required (configure one, or derive one with derive_tracking_secret)");
  if (!sink) return invalid_argument("tracking: a message sink is required");
  TP_ASSIGN(LinkSigner signer, LinkSigner::create(config.secret, config.base_url, clock, config.previous_secrets));
  return std::unique_ptr<TrackingHandler>(
      new TrackingHandler(std::move(config), std::move(signer), std::move(sink), std::move(consent), clock));
}

bool TrackingHandler::handles(std::string_view path) { return path.substr(0, 3) == "/t/"; }

TrackingResponse TrackingHandler::page(int status, std::string body) const {
  TrackingResponse r;
  r.status = status;
  r.content_type = std::string(kHtml);
  r.body = std::move(body);
  r.headers = {
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
  };
  return r;
}

TrackingResponse TrackingHandler::error_page(int status, std::string_view title, std::string_view text) const {
  return page(status, message_page(config_.company_name, title, text));
}

std::string TrackingHandler::preferences_href(const LinkClaims& claims) const {
  LinkClaims preferences = claims;
  preferences.kind = LinkKind::kPreferences;
  preferences.url.clear();
  auto token = signer_.issue(preferences);
  return token.is_ok() ? link_path(LinkKind::kPreferences, *token) : std::string();
}

void TrackingHandler::handle(const TrackingRequest& request, TrackingRespond respond) const {
  const bool head = request.method == "HEAD";
  // HEAD answers like GET without a body and records nothing (link checkers use it).
  auto answer = [&](TrackingResponse r) {
    if (head) r.body.clear();
    respond(std::move(r));
  };
  auto not_valid = [&] {
    answer(error_page(404, "This link is not valid",
                      "The link may have been copied incompletely. Please use the link in the email as it is."));
  };

  std::string_view path = request.path;
  if (!handles(path) || path.size() < 6 || path[4] != '/') return not_valid();
  const char route = path[3];
  std::string_view token = path.substr(5);
  LinkKind kind;
  switch (route) {
    case 'o':
      if (token.size() < 4 || token.substr(token.size() - 4) != ".gif") return not_valid();
      token.remove_suffix(4);
      kind = LinkKind::kOpen;
      break;
    case 'c':
      kind = LinkKind::kClick;
      break;
    case 'u':
      kind = LinkKind::kUnsubscribe;
      break;
    case 'p':
      kind = LinkKind::kPreferences;
      break;
    default:
      return not_valid();
  }
  if (token.empty() || token.size() > kMaxTokenChars) return not_valid();
  for (char c : token)
    if (!is_token_char(c)) return not_valid();

  const bool form_route = kind == LinkKind::kUnsubscribe || kind == LinkKind::kPreferences;
  const bool post = request.method == "POST";
  if (!(request.method == "GET" || head || (post && form_route))) {
    TrackingResponse r = error_page(405, "Not allowed", "This address cannot be used that way.");
    r.headers.emplace_back("Allow", form_route ? "GET, HEAD, POST" : "GET, HEAD");
    return answer(std::move(r));
  }
  if (request.body.size() > kMaxTrackingBodyBytes)
    return answer(error_page(413, "Too much data", "The form sent more data than this page accepts."));

  auto claims = signer_.verify(token);
  if (!claims.is_ok() || claims->kind != kind) return not_valid();

  if (head) {
    // Nothing is recorded: answer with what GET would send, minus the body.
    switch (kind) {
      case LinkKind::kOpen: {
        TrackingResponse r;
        r.content_type = "image/gif";
        r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
        return answer(std::move(r));
      }
      case LinkKind::kClick: {
        TrackingResponse r;
        r.status = 302;
        r.headers = {{"Location", location_value(claims->url)},
                     {"Cache-Control", "no-store"},
                     {"Referrer-Policy", "no-referrer"}};
        return answer(std::move(r));
      }
      case LinkKind::kUnsubscribe:
      case LinkKind::kPreferences:
        return answer(page(200, {}));
    }
  }
  switch (kind) {
    case LinkKind::kOpen:
      return open(request, *claims, std::move(respond));
    case LinkKind::kClick:
      return click(request, *claims, std::move(respond));
    case LinkKind::kUnsubscribe:
      return unsubscribe(request, *claims, std::move(respond));
    case LinkKind::kPreferences:
      return preferences(request, *claims, std::move(respond));
  }
}

void TrackingHandler::open(const TrackingRequest& request, const LinkClaims& claims, TrackingRespond respond) const {
  ClientInfo client{request.remote_address, request.user_agent};
  TrackingResponse r;
  r.content_type = "image/gif";
  r.body = std::string(transparent_gif());
  r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  std::vector<std::string> messages{
      email_opened_message(claims, clock_.now(), config_.record_client ? &client : nullptr)};
  // The pixel is answered whatever the sink says: a broken image helps nobody.
  record_then_respond(sink_, std::move(messages), r, r, std::move(respond));
}

void TrackingHandler::click(const TrackingRequest& request, const LinkClaims& claims, TrackingRespond respond) const {
  ClientInfo client{request.remote_address, request.user_agent};
  TrackingResponse r;
  r.status = 302;
  // The target comes only from the verified token (no open redirect); it is http(s) by construction.
  r.headers = {
      {"Location", location_value(claims.url)}, {"Cache-Control", "no-store"}, {"Referrer-Policy", "no-referrer"}};
  std::vector<std::string> messages{
      email_clicked_message(claims, clock_.now(), config_.record_client ? &client : nullptr)};
  record_then_respond(sink_, std::move(messages), r, r, std::move(respond));
}

void TrackingHandler::unsubscribe(const TrackingRequest& request, const LinkClaims& claims,
                                  TrackingRespond respond) const {
  const std::string preferences = preferences_href(claims);
  if (request.method == "GET") return respond(page(200, unsubscribe_confirm_page(config_.company_name, preferences)));

  auto fields = parse_form(request.content_type, request.body);
  if (!fields.is_ok())
    return respond(error_page(415, "Unsupported request", "This page accepts form submissions only."));
  auto value = form_value(*fields, "List-Unsubscribe");
  if (!value || !equals_ignoring_case(*value, "One-Click"))
    return respond(error_page(400, "Nothing was changed",
                              "The request did not ask to unsubscribe. Please use the button on the page."));
  record_then_respond(sink_, unsubscribe_messages(claims, config_.purposes, clock_.now()),
                      page(200, unsubscribed_page(config_.company_name, preferences)),
                      error_page(503, "Please try again",
                                 "We could not save your choice just now. Nothing was changed; please try again "
                                 "in a minute."),
                      std::move(respond));
}

void TrackingHandler::preferences(const TrackingRequest& request, const LinkClaims& claims,
                                  TrackingRespond respond) const {
  if (request.method == "GET") {
    std::map<std::string, bool> state;
    if (consent_) {
      if (auto known = consent_(claims.context.user_id)) state = std::move(*known);
    }
    return respond(
        page(200, preferences_page(config_.company_name, config_.purposes, state, PreferencesNotice::kNone)));
  }

  auto fields = parse_form(request.content_type, request.body);
  if (!fields.is_ok())
    return respond(error_page(415, "Unsupported request", "This page accepts form submissions only."));
  if (form_value(*fields, "form") != std::optional<std::string>("preferences"))
    return respond(error_page(400, "Nothing was changed", "Please use the form on the preference page."));
  const bool all_off = form_value(*fields, "action") == std::optional<std::string>("unsubscribe-all");
  std::set<std::string> ticked;
  for (const auto& [name, value] : *fields)
    if (name == "purpose") ticked.insert(value);  // ids no longer configured are ignored below

  std::map<std::string, bool> choice;
  bool any_on = false;
  for (const Purpose& p : config_.purposes) {
    bool on = !all_off && ticked.count(p.id) > 0;
    choice[p.id] = on;
    any_on = any_on || on;
  }
  // With no purposes configured, "Save" means "keep sending"; with purposes, none ticked is out.
  const bool unsubscribed = all_off || (!config_.purposes.empty() && !any_on);
  const PreferencesNotice notice = unsubscribed ? PreferencesNotice::kUnsubscribedAll : PreferencesNotice::kSaved;
  record_then_respond(sink_, {preferences_message(claims, choice, unsubscribed, clock_.now())},
                      page(200, preferences_page(config_.company_name, config_.purposes, choice, notice)),
                      error_page(503, "Please try again",
                                 "We could not save your preferences just now. Nothing was changed; please try "
                                 "again in a minute."),
                      std::move(respond));
}

}  // namespace tp::tracking
