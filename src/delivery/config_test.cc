// The delivery: section of touchpoint.yaml: values, defaults, and errors naming file:line:col.
#include "delivery/config.h"

#include <gtest/gtest.h>

namespace tp::delivery {
namespace {

using namespace std::chrono_literals;

TEST(DeliveryConfig, ReadsEveryKey) {
  auto o = parse_delivery_config("touchpoint.yaml", R"(channels: {smtp: {host: x}}
delivery:
  workers: 2
  batch: 50
  max_attempts: 3
  backoff: {first: 1s, max: 2h}
  breaker: {failures: 2, cooldown: 500ms}
  rate_limit: {email: 50, sms: 0.5}
)");
  ASSERT_TRUE(o.is_ok()) << o.status().message();
  EXPECT_EQ(o->workers, 2u);
  EXPECT_EQ(o->batch, 50u);
  EXPECT_EQ(o->max_attempts, 3);
  EXPECT_EQ(o->first_backoff, 1s);
  EXPECT_EQ(o->max_backoff, 2h);
  EXPECT_EQ(o->breaker_failures, 2);
  EXPECT_EQ(o->breaker_cooldown, 500ms);
  EXPECT_EQ(o->rate_per_second, (std::map<std::string, double>{{"email", 50}, {"sms", 0.5}}));
}

TEST(DeliveryConfig, MissingSectionKeepsTheDefaults) {
  for (const char* text : {"", "channels: {}\n", "delivery:\n"}) {
    auto o = parse_delivery_config("t.yaml", text);
    ASSERT_TRUE(o.is_ok()) << o.status().message();
    EXPECT_EQ(o->max_attempts, Options{}.max_attempts);
    EXPECT_EQ(o->first_backoff, Options{}.first_backoff);
    EXPECT_TRUE(o->rate_per_second.empty());
  }
}

TEST(DeliveryConfig, EveryProblemNamesWhereAndWhat) {
  auto o = parse_delivery_config("t.yaml", R"(delivery:
  workers: 0
  retries: 3
  backoff: {first: 10, max: 9d}
  rate_limit: {email: -1, fax: 2}
)");
  ASSERT_FALSE(o.is_ok());
  EXPECT_EQ(o.status().message(),
            "t.yaml:3:3: delivery.retries: unknown key (known: workers, batch, max_attempts, backoff, breaker, "
            "rate_limit)\n"
            "t.yaml:2:12: delivery.workers: '0' is not a whole number from 1 to 64\n"
            "t.yaml:4:20: delivery.backoff.first: '10' is not a duration like 500ms, 10s or 2m\n"
            "t.yaml:4:29: delivery.backoff.max: '9d' is not a duration like 500ms, 10s or 2m\n"
            "t.yaml:5:27: delivery.rate_limit.fax: unknown key (known: email, sms, webhook)\n"
            "t.yaml:5:23: delivery.rate_limit.email: '-1' is not a number above 0 and at most 1000000");
  EXPECT_EQ(parse_delivery_config("t.yaml", "delivery: [\n").status().message().substr(0, 20), "t.yaml:2:1: YAML syn");
}

}  // namespace
}  // namespace tp::delivery
