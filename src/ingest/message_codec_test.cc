#include "ingest/message_codec.h"

#include <gtest/gtest.h>

namespace tp::ingest {
namespace {

Message sample() {
  Message m;
  m.type = MessageType::kIdentify;
  m.message_id = "m-1";
  m.user_id = "u-åäö";
  m.anonymous_id = "a-1";
  m.event = "";
  m.group_id = "g";
  m.previous_id = "p";
  m.timestamp = Timestamp(Millis(1764000000123));
  m.received_at = Timestamp(Millis(1764000000456));
  m.traits = {{"email", R"("ann@example.se")"}, {"plan", R"({"tier":2})"}};
  m.consent = {{"marketing", true}, {"analytics", false}};
  m.body = std::string(R"({"type":"identify","x":")") + std::string(1, '\0') + "\"}";
  return m;
}

TEST(MessageCodecTest, EveryFieldSurvivesTheRoundTrip) {
  std::string bytes;
  encode_message(sample(), bytes);
  Message other;
  other.type = MessageType::kAlias;
  other.message_id = "m-2";
  encode_message(other, bytes);

  std::string_view in = bytes;
  auto a = decode_message(in);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  Message want = sample();
  EXPECT_EQ(a->type, want.type);
  EXPECT_EQ(a->message_id, want.message_id);
  EXPECT_EQ(a->user_id, want.user_id);
  EXPECT_EQ(a->anonymous_id, want.anonymous_id);
  EXPECT_EQ(a->group_id, want.group_id);
  EXPECT_EQ(a->previous_id, want.previous_id);
  EXPECT_EQ(a->timestamp, want.timestamp);
  EXPECT_EQ(a->received_at, want.received_at);
  ASSERT_EQ(a->traits.size(), 2u);
  EXPECT_EQ(a->traits[1].name, "plan");
  EXPECT_EQ(a->traits[1].json, R"({"tier":2})");
  EXPECT_EQ(a->consent, want.consent);
  EXPECT_EQ(a->body, want.body);
  auto b = decode_message(in);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->type, MessageType::kAlias);
  EXPECT_EQ(b->message_id, "m-2");
  EXPECT_TRUE(in.empty());
}

// The applier decodes into the messages of its last apply: nothing of the earlier message may
// survive into the later one.
TEST(MessageCodecTest, DecodingIntoAUsedMessageLeavesNothingOfIt) {
  Message small;
  small.type = MessageType::kTrack;
  small.message_id = "m-2";
  small.user_id = "u-2";
  small.event = "Ping";
  small.timestamp = Timestamp(Millis(5));
  small.received_at = Timestamp(Millis(6));
  small.body = "{}";
  std::string bytes;
  encode_message(sample(), bytes);
  encode_message(small, bytes);

  std::string_view in = bytes;
  Message m;
  ASSERT_TRUE(decode_message_into(in, m).is_ok());
  ASSERT_EQ(m.traits.size(), 2u);
  ASSERT_TRUE(decode_message_into(in, m).is_ok());
  EXPECT_EQ(m.type, small.type);
  EXPECT_EQ(m.message_id, small.message_id);
  EXPECT_EQ(m.user_id, small.user_id);
  EXPECT_EQ(m.anonymous_id, "");
  EXPECT_EQ(m.event, small.event);
  EXPECT_EQ(m.group_id, "");
  EXPECT_EQ(m.previous_id, "");
  EXPECT_EQ(m.timestamp, small.timestamp);
  EXPECT_EQ(m.received_at, small.received_at);
  EXPECT_TRUE(m.traits.empty());
  EXPECT_TRUE(m.consent.empty());
  EXPECT_EQ(m.body, small.body);
  EXPECT_TRUE(in.empty());
}

TEST(MessageCodecTest, CutShortOrUnknownInputIsAnError) {
  std::string bytes;
  encode_message(sample(), bytes);
  for (size_t n : {size_t{0}, size_t{1}, size_t{10}, bytes.size() - 1}) {
    std::string_view in(bytes.data(), n);
    auto m = decode_message(in);
    ASSERT_FALSE(m.is_ok()) << n;
    EXPECT_NE(m.status().message().find("intake entry"), std::string::npos);
  }
  // A consent flag other than 0 or 1 would not encode back to the same bytes (found by the fuzzer).
  std::string flag = bytes;
  flag.back() = 2;
  std::string_view bad_flag = flag;
  EXPECT_NE(decode_message(bad_flag).status().message().find("consent flag"), std::string::npos);
  bytes[0] = 9;
  std::string_view in = bytes;
  EXPECT_NE(decode_message(in).status().message().find("unknown message format version 9"), std::string::npos);
}

}  // namespace
}  // namespace tp::ingest
