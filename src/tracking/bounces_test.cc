#include "tracking/bounces.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tracking/events.h"

namespace tp::tracking {
namespace {

using Json = nlohmann::json;

const Timestamp kNow = Timestamp(std::chrono::seconds(1795510800));

std::vector<Json> parsed(const std::vector<std::string>& messages) {
  std::vector<Json> out;
  for (const auto& m : messages) out.push_back(Json::parse(m));
  return out;
}

TEST(BounceMessages, HardBounceRecordsTheEventAndMarksTheAddress) {
  ManualClock clock(kNow);
  auto messages = bounce_messages(
      R"({"email": "asa@example.se", "type": "hard", "messageKey": "4711:confirmation:0",
          "reason": "550 5.1.1 No such user", "provider": "ignored"})",
      "u1", clock);
  ASSERT_TRUE(messages.is_ok()) << messages.status().message();
  auto m = parsed(*messages);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], Json::parse(R"({"type": "track", "userId": "u1", "messageId": ")" + std::string(m[0]["messageId"]) +
                              R"(", "timestamp": "2026-11-24T09:00:00.000Z", "event": "Email Bounced",
      "properties": {"messageKey": "4711:confirmation:0", "type": "hard", "email": "asa@example.se",
                     "reason": "550 5.1.1 No such user"}})"));
  EXPECT_EQ(m[1]["type"], "identify");
  EXPECT_EQ(m[1]["traits"], Json({{"email_status", "bounced"}}));
  EXPECT_NE(m[0]["messageId"], m[1]["messageId"]);
  EXPECT_EQ(std::string(m[0]["messageId"]).rfind("trk-bounce-", 0), 0u);
}

TEST(BounceMessages, SoftBounceOnlyRecords) {
  ManualClock clock(kNow);
  auto m = parsed(*bounce_messages(R"({"email": "asa@example.se", "type": "soft", "messageKey": "k"})", "u1", clock));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["event"], "Email Bounced");
  EXPECT_EQ(m[0]["properties"], Json({{"messageKey", "k"}, {"type", "soft"}, {"email", "asa@example.se"}}));
}

TEST(BounceMessages, ComplaintRecordsAndMarksTheAddress) {
  ManualClock clock(kNow);
  auto m =
      parsed(*bounce_messages(R"({"email": "asa@example.se", "type": "complaint", "reason": "abuse"})", "u1", clock));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]["event"], "Email Complained");
  EXPECT_EQ(m[0]["properties"], Json({{"email", "asa@example.se"}, {"reason", "abuse"}}));
  EXPECT_EQ(m[1]["traits"], Json({{"email_status", "complained"}}));
  EXPECT_EQ(std::string(m[0]["messageId"]).rfind("trk-complaint-", 0), 0u);
}

TEST(BounceMessages, TheSameReportTwiceHasTheSameIds) {
  ManualClock clock(kNow);
  const std::string report = R"({"email": "asa@example.se", "type": "hard", "messageKey": "k", "reason": "550"})";
  auto a = parsed(*bounce_messages(report, "u1", clock));
  clock.advance(Millis(60'000));  // the provider retries its webhook a minute later
  auto b = parsed(*bounce_messages(report, "u1", clock));
  EXPECT_EQ(a[0]["messageId"], b[0]["messageId"]);
  EXPECT_EQ(a[1]["messageId"], b[1]["messageId"]);
  auto other =
      parsed(*bounce_messages(R"({"email": "asa@example.se", "type": "hard", "messageKey": "k2"})", "u1", clock));
  EXPECT_NE(a[0]["messageId"], other[0]["messageId"]);
}

TEST(BounceMessages, LongReasonsAreCutAtACharacterBoundary) {
  ManualClock clock(kNow);
  std::string reason = "x" + std::string(600, '\0');
  reason.clear();
  for (int i = 0; i < 600; ++i) reason += "ä";  // 1,200 bytes
  Json report = {{"email", "a@b.example"}, {"type", "soft"}, {"reason", reason}};
  auto m = parsed(*bounce_messages(report.dump(), "u1", clock));
  std::string cut = m[0]["properties"]["reason"];
  EXPECT_EQ(cut.size(), kMaxBounceReasonBytes);
  EXPECT_EQ(cut, reason.substr(0, kMaxBounceReasonBytes));
}

TEST(BounceMessages, ErrorsNameTheField) {
  ManualClock clock(kNow);
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "body: not valid JSON"},
      {"[]", "body: expected a JSON object, got an array"},
      {R"({"type": "hard"})", "email: required"},
      {R"({"email": "", "type": "hard"})", "email: required"},
      {R"({"email": 7, "type": "hard"})", "email: expected a string, got a number"},
      {R"({"email": "no-at-sign", "type": "hard"})", "email: 'no-at-sign' is not an email address"},
      {R"({"email": "a b@example.se", "type": "hard"})", "email: 'a b@example.se' is not an email address"},
      {R"({"email": "@example.se", "type": "hard"})", "email: '@example.se' is not an email address"},
      {R"({"email": "a@b.example"})", "type: required (hard, soft or complaint)"},
      {R"({"email": "a@b.example", "type": "bouncy"})", "type: 'bouncy' is not one of hard, soft, complaint"},
      {R"({"email": "a@b.example", "type": null})", "type: expected a string, got null"},
      {R"({"email": "a@b.example", "type": "hard", "messageKey": {}})", "messageKey: expected a string, got an object"},
      {R"({"email": "a@b.example", "type": "hard", "reason": ["x"]})", "reason: expected a string, got an array"},
  };
  for (const auto& [json, error] : cases) {
    auto result = bounce_messages(json, "u1", clock);
    ASSERT_FALSE(result.is_ok()) << json;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().message(), error) << json;
  }
  EXPECT_EQ(bounce_messages(R"({"email": "a@b.example", "type": "hard"})", "", clock).status().message(),
            "userId: required");
}

}  // namespace
}  // namespace tp::tracking
