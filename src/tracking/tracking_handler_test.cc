#include "tracking/tracking_handler.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tracking/events.h"

namespace tp::tracking {
namespace {

using Json = nlohmann::json;

const Timestamp kNow = Timestamp(std::chrono::seconds(1795510800));  // 2026-11-24T09:00:00.000Z

TrackingConfig config() {
  TrackingConfig c;
  c.base_url = "https://t.shop.example";
  c.secret = "handler-test-secret-0123456789abcdef";
  c.company_name = "Zoë's <Shop> & Co";
  c.purposes = {{"newsletter", "Newsletter", "News and stories, monthly"},
                {"offers", "Offers", "Sales and discount codes"},
                {"product-updates", "Product updates", ""}};
  return c;
}

LinkContext context() { return {"4711:confirmation:0", "u1", "conversion-from-web", "confirmation"}; }

struct Harness {
  ManualClock clock{kNow};
  std::vector<std::vector<std::string>> batches;  // what the sink received
  bool sink_ok = true;
  bool defer = false;  // keep `done` for the test to call
  std::vector<std::function<void(bool)>> pending;
  std::optional<std::map<std::string, bool>> consent;
  std::unique_ptr<TrackingHandler> handler;

  explicit Harness(TrackingConfig c = config()) {
    auto h = TrackingHandler::create(
        std::move(c),
        [this](std::vector<std::string> messages, std::function<void(bool)> done) {
          batches.push_back(std::move(messages));
          if (defer)
            pending.push_back(std::move(done));
          else
            done(sink_ok);
        },
        clock, [this](const std::string&) { return consent; });
    EXPECT_TRUE(h.is_ok()) << h.status().message();
    handler = std::move(h).value();
  }

  std::string url(LinkKind kind, std::string destination = {}) {
    return *handler->signer().url(kind, context(), destination);
  }
  std::string path(LinkKind kind, std::string destination = {}) {
    return url(kind, std::move(destination)).substr(std::string("https://t.shop.example").size());
  }

  // Calls the handler; fails the test when it answers more than once.
  std::optional<TrackingResponse> call(TrackingRequest request) {
    std::optional<TrackingResponse> out;
    int calls = 0;
    handler->handle(request, [&](TrackingResponse r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_LE(calls, 1);
    return out;
  }
  TrackingResponse get(const std::string& path) {
    auto r = call({"GET", path});
    EXPECT_TRUE(r.has_value());
    return r.value_or(TrackingResponse{});
  }
  TrackingResponse post(const std::string& path, const std::string& body,
                        const std::string& content_type = "application/x-www-form-urlencoded") {
    auto r = call({"POST", path, "", body, content_type});
    EXPECT_TRUE(r.has_value());
    return r.value_or(TrackingResponse{});
  }
  std::vector<Json> messages() const {
    std::vector<Json> out;
    for (const auto& batch : batches)
      for (const auto& m : batch) out.push_back(Json::parse(m));
    return out;
  }
};

std::string header(const TrackingResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

std::string tamper(std::string path) {
  size_t at = path.find('.') - 3;  // inside the encrypted body
  path[at] = path[at] == 'A' ? 'B' : 'A';
  return path;
}

TEST(TrackingHandler, OpenAnswersTheGifAndRecordsEmailOpened) {
  Harness h;
  auto r = h.get(h.path(LinkKind::kOpen));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "image/gif");
  EXPECT_EQ(r.body, transparent_gif());
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  ASSERT_EQ(h.messages().size(), 1u);
  EXPECT_EQ(h.messages()[0], Json::parse(R"({
    "type": "track", "userId": "u1", "messageId": ")" +
                                         derive_message_id("open", {"4711:confirmation:0", "u1"}) + R"(",
    "timestamp": "2026-11-24T09:00:00.000Z", "event": "Email Opened",
    "properties": {"journey": "conversion-from-web", "step": "confirmation", "messageKey": "4711:confirmation:0"}})"));
}

TEST(TrackingHandler, TransparentGifIsAWellFormedOnePixelGif) {
  std::string_view gif = transparent_gif();
  ASSERT_EQ(gif.size(), 43u);
  EXPECT_EQ(gif.substr(0, 6), "GIF89a");
  EXPECT_EQ(static_cast<unsigned char>(gif[6]) | static_cast<unsigned char>(gif[7]) << 8, 1);  // width
  EXPECT_EQ(static_cast<unsigned char>(gif[8]) | static_cast<unsigned char>(gif[9]) << 8, 1);  // height
  EXPECT_EQ(static_cast<unsigned char>(gif[22]) & 1, 1);                                       // transparency flag
  EXPECT_EQ(gif.back(), ';');
}

TEST(TrackingHandler, OpenIsAnsweredEvenWhenTheSinkFails) {
  Harness h;
  h.sink_ok = false;
  auto r = h.get(h.path(LinkKind::kOpen));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, transparent_gif());
}

TEST(TrackingHandler, ClickRedirectsToTheSignedUrlAndRecordsEmailClicked) {
  Harness h;
  auto r = h.get(h.path(LinkKind::kClick, "https://shop.example/sale?a=1&b=2"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(header(r, "Location"), "https://shop.example/sale?a=1&b=2");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  ASSERT_EQ(h.messages().size(), 1u);
  Json m = h.messages()[0];
  EXPECT_EQ(m["event"], "Email Clicked");
  EXPECT_EQ(m["properties"], Json::parse(R"({"journey": "conversion-from-web", "step": "confirmation",
      "messageKey": "4711:confirmation:0", "url": "https://shop.example/sale?a=1&b=2"})"));
  EXPECT_EQ(m["messageId"],
            derive_message_id("click", {"4711:confirmation:0", "u1", "https://shop.example/sale?a=1&b=2"}));
}

TEST(TrackingHandler, ClickLocationIsPercentEncodedWhereAHeaderNeedsIt) {
  Harness h;
  auto r = h.get(h.path(LinkKind::kClick, "https://shop.example/sök?q=a b"));
  EXPECT_EQ(header(r, "Location"), "https://shop.example/s%C3%B6k?q=a%20b");
  EXPECT_EQ(h.messages()[0]["properties"]["url"], "https://shop.example/sök?q=a b");
}

TEST(TrackingHandler, InvalidTokensAnswer404WithoutRedirectOrRecord) {
  Harness h;
  const std::string click = h.path(LinkKind::kClick, "https://shop.example/");
  const std::string open = h.path(LinkKind::kOpen);
  const std::string unsubscribe = h.path(LinkKind::kUnsubscribe);
  const std::string open_token = open.substr(5, open.size() - 9);
  const std::string click_token = click.substr(5);
  const std::string paths[] = {
      tamper(click),
      tamper(open),
      tamper(unsubscribe),
      "/t/c/" + open_token,             // an open token as a click
      "/t/u/" + click_token,            // a click token as an unsubscribe
      "/t/p/" + unsubscribe.substr(5),  // an unsubscribe token as preferences
      "/t/o/" + open_token,             // no .gif
      "/t/o/" + click_token + ".gif",
      "/t/c/",
      "/t/c",
      "/t/",
      "/t/x/" + click_token,
      "/t/c/" + click_token + "/",
      "/t/c/" + click_token + "%2F",
      "/t/c/../c/" + click_token,
      "/t/c/" + std::string(kMaxTokenChars + 1, 'A'),
      "/v1/track",
  };
  for (const auto& path : paths) {
    SCOPED_TRACE(path);
    auto r = h.get(path);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(header(r, "Location"), "");
    EXPECT_NE(r.body.find("This link is not valid"), std::string::npos);
  }
  EXPECT_TRUE(h.batches.empty());
}

TEST(TrackingHandler, MethodsPerRoute) {
  Harness h;
  struct Case {
    std::string method;
    std::string path;
    int status;
    std::string allow;
  };
  const Case cases[] = {
      {"POST", h.path(LinkKind::kOpen), 405, "GET, HEAD"},
      {"POST", h.path(LinkKind::kClick, "https://shop.example/"), 405, "GET, HEAD"},
      {"PUT", h.path(LinkKind::kUnsubscribe), 405, "GET, HEAD, POST"},
      {"DELETE", h.path(LinkKind::kPreferences), 405, "GET, HEAD, POST"},
      {"OPTIONS", h.path(LinkKind::kOpen), 405, "GET, HEAD"},
      {"HEAD", h.path(LinkKind::kOpen), 200, ""},
      {"HEAD", h.path(LinkKind::kClick, "https://shop.example/"), 302, ""},
      {"HEAD", h.path(LinkKind::kUnsubscribe), 200, ""},
      {"HEAD", h.path(LinkKind::kPreferences), 200, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    auto r = h.call({c.method, c.path});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(header(*r, "Allow"), c.allow);
    if (c.method == "HEAD") {
      EXPECT_EQ(r->body, "");
    }
  }
  EXPECT_TRUE(h.batches.empty());  // neither wrong methods nor HEAD record anything
}

TEST(TrackingHandler, UnsubscribeGetShowsAConfirmationAndRecordsNothing) {
  Harness h;
  auto r = h.get(h.path(LinkKind::kUnsubscribe));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<form method=\"post\">"), std::string::npos);
  EXPECT_NE(r.body.find("name=\"List-Unsubscribe\" value=\"One-Click\""), std::string::npos);
  EXPECT_NE(r.body.find("Zoë&#39;s &lt;Shop&gt; &amp; Co"), std::string::npos);
  EXPECT_EQ(r.body.find("<Shop>"), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/t/p/"), std::string::npos);
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_TRUE(h.batches.empty());
  // The preferences link on the page works.
  size_t at = r.body.find("href=\"/t/p/") + 6;
  std::string preferences = r.body.substr(at, r.body.find('"', at) - at);
  EXPECT_EQ(h.get(preferences).status, 200);
}

Json unsubscribe_identify(const std::string& message_id) {
  return Json::parse(R"({"type": "identify", "userId": "u1", "messageId": ")" + message_id + R"(",
    "timestamp": "2026-11-24T09:00:00.000Z", "traits": {"unsubscribed": true},
    "context": {"consent": {"categoryPreferences": {"newsletter": false, "offers": false, "product-updates": false}}}})");
}

TEST(TrackingHandler, OneClickUnsubscribeUrlencodedAndMultipart) {
  struct Case {
    std::string name;
    std::string content_type;
    std::string body;
  };
  const Case cases[] = {
      {"urlencoded", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"},
      {"no content type", "", "List-Unsubscribe=One-Click"},
      {"value in other case", "application/x-www-form-urlencoded", "List-Unsubscribe=one-click"},
      {"multipart (RFC 8058 §8.1)", "multipart/form-data; boundary=\"XXXXboundary text\"",
       "--XXXXboundary text\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
       "--XXXXboundary text--\r\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    auto r = h.post(h.path(LinkKind::kUnsubscribe), c.body, c.content_type);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("You are unsubscribed"), std::string::npos);
    EXPECT_NE(r.body.find("role=\"status\""), std::string::npos);
    ASSERT_EQ(h.batches.size(), 1u);  // track and identify together
    auto messages = h.messages();
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0], Json::parse(R"({"type": "track", "userId": "u1", "messageId": ")" +
                                       derive_message_id("unsubscribe", {"4711:confirmation:0", "u1"}) + R"(",
      "timestamp": "2026-11-24T09:00:00.000Z", "event": "Unsubscribed",
      "properties": {"journey": "conversion-from-web", "step": "confirmation", "messageKey": "4711:confirmation:0"}})"));
    EXPECT_EQ(messages[1], unsubscribe_identify(derive_message_id("unsubscribe-identify",
                                                                  {"4711:confirmation:0", "u1", "1795510800000"})));
  }
}

TEST(TrackingHandler, UnsubscribePostWithoutTheOneClickFieldChangesNothing) {
  Harness h;
  const std::string path = h.path(LinkKind::kUnsubscribe);
  EXPECT_EQ(h.post(path, "").status, 400);
  EXPECT_EQ(h.post(path, "List-Unsubscribe=Yes").status, 400);
  EXPECT_EQ(h.post(path, "unsubscribe=1").status, 400);
  EXPECT_EQ(h.post(path, "{\"List-Unsubscribe\":\"One-Click\"}", "application/json").status, 415);
  EXPECT_EQ(h.post(path, "x", "multipart/form-data; boundary=b").status, 415);  // not a valid multipart body
  EXPECT_EQ(h.post(path, std::string(kMaxTrackingBodyBytes + 1, 'a')).status, 413);
  EXPECT_TRUE(h.batches.empty());
}

TEST(TrackingHandler, UnsubscribeSaysSoWhenTheChoiceWasNotSaved) {
  Harness h;
  h.sink_ok = false;
  auto r = h.post(h.path(LinkKind::kUnsubscribe), "List-Unsubscribe=One-Click");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("Please try again"), std::string::npos);
}

TEST(TrackingHandler, AnswersOnlyOnceTheSinkIsDoneAndOnlyOnce) {
  Harness h;
  h.defer = true;
  int answers = 0;
  TrackingResponse answer;
  h.handler->handle({"POST", h.path(LinkKind::kUnsubscribe), "", "List-Unsubscribe=One-Click"},
                    [&](TrackingResponse r) {
                      ++answers;
                      answer = std::move(r);
                    });
  EXPECT_EQ(answers, 0);
  ASSERT_EQ(h.pending.size(), 1u);
  h.handler.reset();  // pending callbacks do not need the handler
  h.pending[0](true);
  h.pending[0](false);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(answer.status, 200);
}

TEST(TrackingHandler, MessageIdsAreDeterministic) {
  Harness h;
  const std::string open = h.path(LinkKind::kOpen);
  const std::string click_a = h.path(LinkKind::kClick, "https://shop.example/a");
  const std::string click_b = h.path(LinkKind::kClick, "https://shop.example/b");
  const std::string unsubscribe = h.path(LinkKind::kUnsubscribe);
  h.get(open);
  h.get(open);  // a prefetch, then the person
  h.clock.advance(Millis(3'600'000));
  const std::string open_later = h.path(LinkKind::kOpen);  // another token for the same message
  ASSERT_NE(open_later, open);
  h.get(open_later);
  h.get(click_a);
  h.get(click_a);  // double click
  h.get(click_b);
  h.post(unsubscribe, "List-Unsubscribe=One-Click");
  h.post(unsubscribe, "List-Unsubscribe=One-Click");  // the same moment: same ids
  h.clock.advance(Millis(1));
  h.post(unsubscribe, "List-Unsubscribe=One-Click");
  auto m = h.messages();
  ASSERT_EQ(m.size(), 12u);
  // Opens: one per message, whatever the token or time.
  EXPECT_EQ(m[0]["messageId"], m[1]["messageId"]);
  EXPECT_EQ(m[0]["messageId"], m[2]["messageId"]);
  EXPECT_NE(m[0]["timestamp"], m[2]["timestamp"]);
  // Clicks: one per message and URL.
  EXPECT_EQ(m[3]["messageId"], m[4]["messageId"]);
  EXPECT_NE(m[3]["messageId"], m[5]["messageId"]);
  // Unsubscribed (track): one per message; its identify: one per moment.
  EXPECT_EQ(m[6]["messageId"], m[8]["messageId"]);
  EXPECT_EQ(m[6]["messageId"], m[10]["messageId"]);
  EXPECT_EQ(m[7]["messageId"], m[9]["messageId"]);
  EXPECT_NE(m[7]["messageId"], m[11]["messageId"]);
  for (const auto& message : m) {
    std::string id = message["messageId"];
    EXPECT_EQ(id.substr(0, 4), "trk-");
    EXPECT_EQ(id.size() - id.rfind('-') - 1, 32u) << id;
  }
}

TEST(TrackingHandler, PreferencePageShowsThePurposesAndTheCurrentConsent) {
  Harness h;
  auto r = h.get(h.path(LinkKind::kPreferences));
  EXPECT_EQ(r.status, 200);
  for (const char* id : {"newsletter", "offers", "product-updates"})
    EXPECT_NE(r.body.find(std::string("name=\"purpose\" value=\"") + id + "\" checked"), std::string::npos) << id;
  EXPECT_NE(r.body.find("<label for=\"purpose-offers\">Offers</label>"), std::string::npos);
  EXPECT_NE(r.body.find("aria-describedby=\"purpose-offers-description\""), std::string::npos);
  EXPECT_NE(r.body.find("<legend>"), std::string::npos);
  EXPECT_NE(r.body.find("<input type=\"hidden\" name=\"form\" value=\"preferences\">"), std::string::npos);

  h.consent = std::map<std::string, bool>{{"newsletter", true}, {"offers", false}};
  r = h.get(h.path(LinkKind::kPreferences));
  EXPECT_NE(r.body.find("value=\"newsletter\" checked"), std::string::npos);
  EXPECT_NE(r.body.find("value=\"offers\" aria-describedby"), std::string::npos);  // unchecked
  EXPECT_NE(r.body.find("value=\"product-updates\" checked"), std::string::npos);  // unknown: checked
  EXPECT_TRUE(h.batches.empty());
}

TEST(TrackingHandler, PreferencePostSavesConsent) {
  struct Case {
    std::string name;
    std::string body;
    Json preferences;
    bool unsubscribed;
    std::string notice;
  };
  const Case cases[] = {
      {"some ticked", "form=preferences&purpose=newsletter&purpose=product-updates&action=save",
       Json{{"newsletter", true}, {"offers", false}, {"product-updates", true}}, false, "Your preferences are saved."},
      {"all ticked, Enter pressed (no action)",
       "form=preferences&purpose=newsletter&purpose=offers&purpose=product-updates",
       Json{{"newsletter", true}, {"offers", true}, {"product-updates", true}}, false, "Your preferences are saved."},
      {"none ticked", "form=preferences&action=save",
       Json{{"newsletter", false}, {"offers", false}, {"product-updates", false}}, true,
       "You are unsubscribed from all marketing emails."},
      {"unsubscribe from all wins over ticks", "form=preferences&purpose=offers&action=unsubscribe-all",
       Json{{"newsletter", false}, {"offers", false}, {"product-updates", false}}, true,
       "You are unsubscribed from all marketing emails."},
      {"unknown purposes ignored", "form=preferences&purpose=offers&purpose=sms-blast",
       Json{{"newsletter", false}, {"offers", true}, {"product-updates", false}}, false, "Your preferences are saved."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;
    auto r = h.post(h.path(LinkKind::kPreferences), c.body);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(c.notice), std::string::npos);
    auto m = h.messages();
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0]["type"], "identify");
    EXPECT_EQ(m[0]["userId"], "u1");
    EXPECT_EQ(m[0]["timestamp"], "2026-11-24T09:00:00.000Z");
    EXPECT_EQ(m[0]["traits"], Json({{"unsubscribed", c.unsubscribed}}));
    EXPECT_EQ(m[0]["context"]["consent"]["categoryPreferences"], c.preferences);
    EXPECT_EQ(std::string(m[0]["messageId"]).rfind("trk-preferences-", 0), 0u);
    // The page shows what was saved.
    for (const auto& [id, on] : c.preferences.items())
      EXPECT_EQ(r.body.find("value=\"" + id + "\" checked") != std::string::npos, on.get<bool>()) << id;
  }
}

TEST(TrackingHandler, PreferencePostNeedsTheFormAndASink) {
  Harness h;
  const std::string path = h.path(LinkKind::kPreferences);
  EXPECT_EQ(h.post(path, "purpose=offers").status, 400);
  EXPECT_EQ(h.post(path, "List-Unsubscribe=One-Click").status, 400);
  EXPECT_TRUE(h.batches.empty());
  h.sink_ok = false;
  EXPECT_EQ(h.post(path, "form=preferences&purpose=offers").status, 503);
}

TEST(TrackingHandler, SameChoiceAtAnotherMomentIsANewMessage) {
  Harness h;
  const std::string path = h.path(LinkKind::kPreferences);
  h.post(path, "form=preferences&purpose=offers");
  h.post(path, "form=preferences&purpose=offers");
  h.clock.advance(Millis(5));
  h.post(path, "form=preferences&purpose=offers");  // off and on again must not be swallowed
  auto m = h.messages();
  EXPECT_EQ(m[0]["messageId"], m[1]["messageId"]);
  EXPECT_NE(m[0]["messageId"], m[2]["messageId"]);
}

TEST(TrackingHandler, ClientDetailsOnlyWhenConfigured) {
  TrackingRequest request{"GET", "", "", "", "", "203.0.113.7", "Mozilla/5.0"};
  {
    Harness h;
    request.path = h.path(LinkKind::kOpen);
    h.call(request);
    EXPECT_FALSE(h.messages()[0].contains("context"));
  }
  TrackingConfig c = config();
  c.record_client = true;
  Harness h(c);
  request.path = h.path(LinkKind::kClick, "https://shop.example/");
  h.call(request);
  EXPECT_EQ(h.messages()[0]["context"], Json({{"ip", "203.0.113.7"}, {"userAgent", "Mozilla/5.0"}}));
}

TEST(TrackingHandler, NoPurposesConfigured) {
  TrackingConfig c = config();
  c.purposes.clear();
  Harness h(c);
  auto page = h.get(h.path(LinkKind::kPreferences));
  EXPECT_EQ(page.body.find("<fieldset>"), std::string::npos);
  h.post(h.path(LinkKind::kPreferences), "form=preferences&action=save");
  h.post(h.path(LinkKind::kPreferences), "form=preferences&action=unsubscribe-all");
  auto m = h.messages();
  EXPECT_EQ(m[0]["traits"]["unsubscribed"], false);
  EXPECT_EQ(m[1]["traits"]["unsubscribed"], true);
  h.post(h.path(LinkKind::kUnsubscribe), "List-Unsubscribe=One-Click");
  EXPECT_EQ(h.messages()[3]["context"]["consent"]["categoryPreferences"], Json::object());
}

TEST(TrackingHandler, MessagesOmitAnEmptyJourneyAndStep) {
  Harness h;
  std::string url = *h.handler->signer().url(LinkKind::kOpen, {"receipt-9", "u1", "", ""});
  h.get(url.substr(std::string("https://t.shop.example").size()));
  EXPECT_EQ(h.messages()[0]["properties"], Json({{"messageKey", "receipt-9"}}));
}

TEST(TrackingHandler, CreateChecksTheConfig) {
  ManualClock clock(kNow);
  auto sink = [](std::vector<std::string>, std::function<void(bool)> done) { done(true); };
  TrackingConfig no_secret = config();
  no_secret.secret.clear();
  EXPECT_EQ(TrackingHandler::create(no_secret, sink, clock).status().message(),
            "tracking.secret: required (configure one, or derive one with derive_tracking_secret)");
  TrackingConfig bad_purpose = config();
  bad_purpose.purposes[1].id = "Offers!";
  EXPECT_EQ(TrackingHandler::create(bad_purpose, sink, clock).status().message().substr(0, 26),
            "tracking.purposes[1].id: '");
  EXPECT_EQ(TrackingHandler::create(config(), nullptr, clock).status().message(),
            "tracking: a message sink is required");
  EXPECT_TRUE(TrackingHandler::handles("/t/o/x.gif"));
  EXPECT_FALSE(TrackingHandler::handles("/v1/track"));
  EXPECT_FALSE(TrackingHandler::handles("/t"));
}

}  // namespace
}  // namespace tp::tracking
