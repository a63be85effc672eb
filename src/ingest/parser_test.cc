#include "ingest/parser.h"

#include <gtest/gtest.h>

#include "base/time_format.h"

namespace tp::ingest {
namespace {

const Timestamp kReceived = *parse_iso8601("2026-11-24T10:00:00Z");

TEST(Parser, TrackBodyIsNormalised) {
  auto r = parse_single(R"({"userId":"u1","event":"Form Submitted","messageId":"m1",
      "properties":{"form":"whitepaper"},"timestamp":"2026-11-24T09:00:00Z","context":{"ip":"1.2.3.4"}})",
                        MessageType::kTrack, kReceived);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Message& m = r->messages.at(0);
  EXPECT_EQ(m.event, "Form Submitted");
  EXPECT_EQ(format_iso8601(m.timestamp), "2026-11-24T09:00:00.000Z");
  EXPECT_EQ(m.body,
            R"({"type":"track","event":"Form Submitted","messageId":"m1","userId":"u1",)"
            R"("timestamp":"2026-11-24T09:00:00.000Z","receivedAt":"2026-11-24T10:00:00.000Z",)"
            R"("originalTimestamp":"2026-11-24T09:00:00.000Z","properties":{"form":"whitepaper"},)"
            R"("context":{"ip":"1.2.3.4"}})");
}

TEST(Parser, ClockSkewCorrection) {
  // The client's clock is 1 h fast: it says the event happened 5 s before it sent the batch.
  auto r = parse_batch(R"({"sentAt":"2026-11-24T11:00:05Z","batch":[
      {"type":"track","event":"A","anonymousId":"a1","timestamp":"2026-11-24T11:00:00Z"}]})",
                       kReceived);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(format_iso8601(r->messages[0].timestamp), "2026-11-24T09:59:55.000Z");
}

TEST(Parser, IdentifyTraitsAndConsent) {
  auto r = parse_single(R"({"userId":42,"traits":{"email":"a@b.se","age":31,"address":{"city":"Stockholm"}},
      "context":{"consent":{"categoryPreferences":{"marketing":false,"analytics":true}}}})",
                        MessageType::kIdentify, kReceived);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const Message& m = r->messages[0];
  EXPECT_EQ(m.user_id, "42");
  ASSERT_EQ(m.traits.size(), 3u);
  EXPECT_EQ(m.traits[2].name, "address");
  EXPECT_EQ(m.traits[2].json, R"({"city":"Stockholm"})");
  ASSERT_EQ(m.consent.size(), 2u);
  EXPECT_EQ(m.consent[0], (std::pair<std::string, bool>("marketing", false)));
}

struct BadCase {
  const char* body;
  bool batch;
  StatusCode code;
  const char* message;
};

TEST(Parser, BadInputNamesTheField) {
  const BadCase cases[] = {
      {R"({"userId":"u1","event":"A",)", false, StatusCode::kInvalidArgument, "body: not valid JSON at byte offset 27"},
      {R"({"event":"A"})", false, StatusCode::kInvalidArgument, "userId: neither userId nor anonymousId is set; one is required"},
      {R"({"userId":{"x":1},"event":"A"})", false, StatusCode::kInvalidArgument, "userId: expected a string, got an object"},
      {R"({"userId":"u","event":"A","timestamp":"yesterday"})", false, StatusCode::kInvalidArgument,
       "timestamp: cannot parse \"yesterday\" as an ISO-8601 timestamp"},
      {R"({"userId":"u","event":"A","properties":[1]})", false, StatusCode::kInvalidArgument,
       "properties: expected an object, got an array"},
      {R"({"userId":"u"})", false, StatusCode::kInvalidArgument, "event: missing; a track call needs an event name"},
      {R"({"userId":"u","event":"A","type":"identify"})", false, StatusCode::kInvalidArgument,
       "type: \"identify\" does not match the endpoint's type \"track\""},
      {R"({"batch":[{"type":"track","userId":"u","event":"A"},{"type":"purchase","userId":"u"}]})", true,
       StatusCode::kInvalidArgument,
       "batch[1].type: unknown message type \"purchase\"; expected identify, track, page, screen, group or alias"},
      {R"({"batch":[{"type":"alias","userId":"u"}]})", true, StatusCode::kInvalidArgument,
       "batch[0].previousId: missing; an alias call needs a previousId"},
      {R"({"batch":{}})", true, StatusCode::kInvalidArgument, "batch: expected an array, got an object"},
      {R"([1,2])", true, StatusCode::kInvalidArgument, "body: expected a JSON object, got an array"},
  };
  for (const auto& c : cases) {
    auto r = c.batch ? parse_batch(c.body, kReceived) : parse_single(c.body, MessageType::kTrack, kReceived);
    ASSERT_FALSE(r.is_ok()) << c.body;
    EXPECT_EQ(r.status().code(), c.code) << c.body;
    EXPECT_EQ(r.status().message(), c.message) << c.body;
  }
}

TEST(Parser, SizeLimits) {
  std::string big = R"({"userId":"u","event":"A","properties":{"x":")" + std::string(40000, 'y') + "\"}}";
  auto r = parse_single(big, MessageType::kTrack, kReceived);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);

  std::string batch = R"({"batch":[)";
  for (int i = 0; i < 40; ++i) {
    if (i) batch += ",";
    batch += R"({"type":"track","userId":"u","event":"A","properties":{"x":")" + std::string(20000, 'y') + "\"}}";
  }
  batch += "]}";
  r = parse_batch(batch, kReceived);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(error_field(r.status()), "body");
}

TEST(Parser, MissingMessageIdIsGenerated) {
  auto r = parse_single(R"({"anonymousId":"a","name":"Home"})", MessageType::kPage, kReceived);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->messages[0].message_id.rfind("tp-", 0), 0u);
  EXPECT_EQ(r->messages[0].timestamp, kReceived);
}

}  // namespace
}  // namespace tp::ingest
