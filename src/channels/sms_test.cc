#include "channels/sms.h"

#include <gtest/gtest.h>

#include "base/crypto.h"
#include "channels/testing/http_server.h"
#include "channels/text.h"

namespace tp::channels {
namespace {

using testing::CannedResponse;
using testing::LoopbackHttpServer;
using testing::RecordedRequest;

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SmsSegments, Table) {
  struct Case {
    std::string text;
    SmsEncoding encoding;
    size_t units, segments;
  } cases[] = {
      {"", SmsEncoding::kGsm7, 0, 0},
      {"Hello", SmsEncoding::kGsm7, 5, 1},
      {std::string(160, 'a'), SmsEncoding::kGsm7, 160, 1},
      {std::string(161, 'a'), SmsEncoding::kGsm7, 161, 2},
      {std::string(306, 'a'), SmsEncoding::kGsm7, 306, 2},
      {std::string(307, 'a'), SmsEncoding::kGsm7, 307, 3},
      {"Ça coûte 5€", SmsEncoding::kUcs2, 11, 1},                       // û is not GSM-7
      {"Prix: 5€ [promo] {vite} ~ ^ | \\", SmsEncoding::kGsm7, 40, 1},  // 9 extension chars count double
      {repeat("€", 80), SmsEncoding::kGsm7, 160, 1},
      {repeat("€", 81), SmsEncoding::kGsm7, 162, 2},
      // 152 septets then an escape pair: the pair does not fit in 153 and moves to segment 2.
      {std::string(152, 'a') + "€" + std::string(10, 'a'), SmsEncoding::kGsm7, 164, 2},
      {std::string(152, 'a') + "€" + std::string(152, 'a'), SmsEncoding::kGsm7, 306, 3},
      {"Grüße aus Köln, Øresund & Ñandu: ¿¡§£¥ÆæßÉΔΦΓΛΩΠΨΣΘΞ@$_", SmsEncoding::kGsm7, 55, 1},
      {"Ñandú", SmsEncoding::kUcs2, 5, 1},  // ú is not GSM-7
      {"back`tick", SmsEncoding::kUcs2, 9, 1},
      {"line\nbreak\r\nok", SmsEncoding::kGsm7, 14, 1},
      {std::string(70, 'a') + "é" + "ç", SmsEncoding::kUcs2, 72, 2},  // ç (lower case) is not GSM-7
      {repeat("ж", 70), SmsEncoding::kUcs2, 70, 1},
      {repeat("ж", 71), SmsEncoding::kUcs2, 71, 2},
      {repeat("ж", 134), SmsEncoding::kUcs2, 134, 2},
      {repeat("ж", 135), SmsEncoding::kUcs2, 135, 3},
      {repeat("🎉", 35), SmsEncoding::kUcs2, 70, 1},  // surrogate pairs: 2 units each
      {repeat("🎉", 36), SmsEncoding::kUcs2, 72, 2},
      // 66 units then an emoji: the pair does not fit in 67 and moves to segment 2.
      {repeat("ж", 66) + "🎉" + repeat("ж", 66), SmsEncoding::kUcs2, 134, 3},
  };
  for (const auto& c : cases) {
    SmsSegments s = count_sms_segments(c.text);
    EXPECT_EQ(s.encoding, c.encoding) << c.text;
    EXPECT_EQ(s.units, c.units) << c.text;
    EXPECT_EQ(s.segments, c.segments) << c.text;
  }
}

TEST(SmsNumbers, E164) {
  for (std::string ok : {"+4915112345678", "+14155550100", "+12345678"}) EXPECT_TRUE(valid_e164(ok)) << ok;
  for (std::string bad :
       {"", "4915112345678", "+0491511234", "+49 151 1234", "+1234567", "+1234567890123456", "+49a5112345"})
    EXPECT_FALSE(valid_e164(bad)) << bad;
}

TEST(SmsReceipts, CallbackSignatureIsTheProvidersHmacSha1OverUrlAndSortedFields) {
  SmsConfig c;
  c.token = "secret-token";
  c.status_callback_url = "https://tp.example.com/hooks/sms";
  // The expected value computed independently (Python hmac/hashlib).
  const std::string body = "To=%2B46701234567&MessageStatus=delivered&MessageSid=SM123&ErrorCode=";
  EXPECT_TRUE(valid_sms_callback_signature(c, "AX4eegyJE9ZX6dsLqEqK83JN3ko=", body));
  EXPECT_FALSE(valid_sms_callback_signature(c, "AX4eegyJE9ZX6dsLqEqK83JN3kp=", body));
  EXPECT_FALSE(valid_sms_callback_signature(c, "", body));
  EXPECT_FALSE(valid_sms_callback_signature(c, "AX4eegyJE9ZX6dsLqEqK83JN3ko=",
                                            "To=%2B46701234567&MessageStatus=undelivered&MessageSid=SM123&ErrorCode="));
  c.status_callback_url = "https://evil.example.com/hooks/sms";
  EXPECT_FALSE(valid_sms_callback_signature(c, "AX4eegyJE9ZX6dsLqEqK83JN3ko=", body));
}

TEST(SmsReceipts, StatusCallback) {
  auto r = parse_sms_status_callback(
      "SmsSid=SM1&SmsStatus=sent&MessageStatus=delivered&To=%2B4915112345678&MessageSid=SM0a1b2c&AccountSid=AC1&"
      "ApiVersion=2010-04-01");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->message_sid, "SM0a1b2c");
  EXPECT_EQ(r->status, SmsStatus::kDelivered);
  EXPECT_EQ(r->raw_status, "delivered");
  EXPECT_EQ(r->to, "+4915112345678");
  EXPECT_TRUE(r->final());
  struct Case {
    std::string body;
    SmsStatus status;
    bool final;
    std::string error_code;
  } cases[] = {
      {"MessageSid=SM1&MessageStatus=queued", SmsStatus::kQueued, false, ""},
      {"MessageSid=SM1&MessageStatus=sent", SmsStatus::kSent, false, ""},
      {"MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003", SmsStatus::kUndelivered, true, "30003"},
      {"MessageSid=SM1&MessageStatus=failed&ErrorCode=30008", SmsStatus::kFailed, true, "30008"},
      {"MessageSid=SM1&MessageStatus=read", SmsStatus::kRead, true, ""},
      {"MessageSid=SM1&MessageStatus=partially_delivered", SmsStatus::kUnknown, false, ""},
  };
  for (const auto& c : cases) {
    auto receipt = parse_sms_status_callback(c.body);
    ASSERT_TRUE(receipt.is_ok()) << c.body;
    EXPECT_EQ(receipt->status, c.status) << c.body;
    EXPECT_EQ(receipt->final(), c.final) << c.body;
    EXPECT_EQ(receipt->error_code, c.error_code) << c.body;
  }
  EXPECT_EQ(parse_sms_status_callback("MessageStatus=sent").status().message(),
            "status callback: MessageSid is missing");
  EXPECT_EQ(parse_sms_status_callback("MessageSid=SM1").status().message(),
            "status callback: MessageStatus is missing");
  EXPECT_EQ(parse_sms_status_callback("MessageSid=SM%G1&MessageStatus=sent").status().message(),
            "status callback: malformed form encoding");
}

class SmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = LoopbackHttpServer::start("127.0.0.1", [](const RecordedRequest& r) {
      CannedResponse c;
      c.headers = {{"Content-Type", "application/json"}};
      auto form = parse_form(r.body).value_or(std::vector<std::pair<std::string, std::string>>{});
      std::string to;
      for (const auto& [k, v] : form)
        if (k == "To") to = v;
      if (r.target != "/2010-04-01/Accounts/AC123/Messages.json") {
        c.status = 404;
        c.body = R"({"code":20404,"message":"The requested resource was not found"})";
      } else if (r.headers.count("authorization") == 0 ||
                 r.headers.at("authorization") != "Basic " + base64_encode("AC123:tok3n")) {
        c.status = 401;
        c.body = R"({"code":20003,"message":"Authenticate"})";
      } else if (to == "+15005550001") {
        c.status = 400;
        c.body = R"({"code":21211,"message":"The 'To' number +15005550001 is not a valid phone number.","status":400})";
      } else if (to == "+15005550429") {
        c.status = 429;
        c.headers.push_back({"Retry-After", "7"});
        c.body = R"({"code":20429,"message":"Too Many Requests"})";
      } else if (to == "+15005550503") {
        c.status = 503;
        c.body = "<html>Service Unavailable</html>";
      } else {
        c.status = 201;
        c.body = R"({"sid":"SM)" +
                 hex_encode(sha256(r.headers.count("idempotency-key") ? r.headers.at("idempotency-key") : ""))
                     .substr(0, 32) +
                 R"(","status":"queued"})";
      }
      return c;
    });
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server.value());
  }
  SmsConfig config() {
    SmsConfig c;
    c.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/";
    c.account = "AC123";
    c.token = "tok3n";
    c.sender_id = "+15005550006";
    c.status_callback_url = "https://touchpoint.example/hooks/sms?src=twilio";
    return c;
  }
  std::unique_ptr<LoopbackHttpServer> server_;
};

TEST_F(SmsTest, SendsFormWithAuthAndIdempotencyKey) {
  auto sender = SmsSender::create(config());
  ASSERT_TRUE(sender.is_ok()) << sender.status().message();
  DeliveryResult r = (*sender)->send(
      {"+4915112345678", "Hallo Zoë! 20% Rabatt & mehr: https://x.example/a?b=1", "journey:7:step:2", ""});
  ASSERT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ(r.code, 201);
  EXPECT_EQ(r.provider_id, "SM" + hex_encode(sha256("journey:7:step:2")).substr(0, 32));
  EXPECT_EQ(r.reason, "HTTP 201 queued");
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& got = requests[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(got.headers.at("idempotency-key"), "journey:7:step:2");
  auto form = parse_form(got.body);
  ASSERT_TRUE(form.has_value());
  EXPECT_EQ(*form, (std::vector<std::pair<std::string, std::string>>{
                       {"To", "+4915112345678"},
                       {"From", "+15005550006"},
                       {"Body", "Hallo Zoë! 20% Rabatt & mehr: https://x.example/a?b=1"},
                       {"StatusCallback", "https://touchpoint.example/hooks/sms?src=twilio"}}));
  // A per-message sender id.
  ASSERT_TRUE((*sender)->send({"+4915112345678", "hi", "k2", "TOUCHPOINT"}).delivered());
  EXPECT_NE(server_->requests().back().body.find("From=TOUCHPOINT&"), std::string::npos);
}

TEST_F(SmsTest, AnswersAreClassified) {
  auto sender = SmsSender::create(config());
  ASSERT_TRUE(sender.is_ok());
  struct Case {
    std::string to;
    DeliveryOutcome outcome;
    int code;
    std::optional<Millis> retry_after;
    std::string words;
  } cases[] = {
      {"+15005550001", DeliveryOutcome::kPermanent, 400, {}, "HTTP 400 (provider code 21211): The 'To' number"},
      {"+15005550429", DeliveryOutcome::kTemporary, 429, Millis(7'000), "HTTP 429 (provider code 20429): Too Many"},
      {"+15005550503", DeliveryOutcome::kTemporary, 503, {}, "HTTP 503: <html>Service Unavailable"},
      {"+15005550999", DeliveryOutcome::kDelivered, 201, {}, "HTTP 201"},
      {"12345", DeliveryOutcome::kPermanent, 0, {}, "is not an E.164 number"},
  };
  for (const auto& c : cases) {
    DeliveryResult r = (*sender)->send({c.to, "hello", "k-" + c.to, ""});
    EXPECT_EQ(r.outcome, c.outcome) << c.to << ": " << r.reason;
    EXPECT_EQ(r.code, c.code) << c.to;
    EXPECT_EQ(r.retry_after, c.retry_after) << c.to;
    EXPECT_NE(r.reason.find(c.words), std::string::npos) << c.to << ": " << r.reason;
  }
  EXPECT_EQ(server_->requests().size(), 4u);  // the bad number never left
  EXPECT_TRUE((*sender)->send({"+15005550999", "", "k", ""}).permanent());
  EXPECT_TRUE((*sender)->send({"+15005550999", "hi", "", ""}).permanent());

  SmsConfig wrong = config();
  wrong.token = "nope";
  DeliveryResult denied = (*SmsSender::create(wrong))->send({"+15005550999", "hi", "k", ""});
  EXPECT_TRUE(denied.permanent()) << denied.reason;
  EXPECT_EQ(denied.code, 401);
}

TEST_F(SmsTest, UnreachableProviderIsTemporary) {
  SmsConfig c = config();
  c.base_url = "http://127.0.0.1:1";  // nothing listens on port 1
  auto sender = SmsSender::create(c);
  ASSERT_TRUE(sender.is_ok());
  DeliveryResult r = (*sender)->send({"+15005550999", "hi", "k", ""});
  EXPECT_TRUE(r.temporary()) << r.reason;
  EXPECT_NE(r.reason.find("could not reach the provider"), std::string::npos) << r.reason;
  c.base_url = "ftp://x";
  EXPECT_FALSE(SmsSender::create(c).is_ok());
}

}  // namespace
}  // namespace tp::channels
