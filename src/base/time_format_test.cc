#include "base/time_format.h"

#include <gtest/gtest.h>

namespace tp {
namespace {

struct Case {
  const char* text;
  const char* expected;  // nullptr: must be rejected
};

TEST(TimeFormat, ParsesAndNormalises) {
  const Case cases[] = {
      {"2026-11-24T08:59:06Z", "2026-11-24T08:59:06.000Z"},
      {"2026-11-24T08:59:06.123Z", "2026-11-24T08:59:06.123Z"},
      {"2026-11-24T08:59:06.123456789Z", "2026-11-24T08:59:06.123Z"},
      {"2026-11-24T08:59:06.5+01:00", "2026-11-24T07:59:06.500Z"},
      {"2026-11-24T00:30:00-0230", "2026-11-24T03:00:00.000Z"},
      {"2026-11-24 08:59Z", "2026-11-24T08:59:00.000Z"},
      {"2026-11-24", "2026-11-24T00:00:00.000Z"},
      {"2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"},
      {"1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"},
      {"2023-02-29T12:00:00Z", nullptr},
      {"2026-13-01T00:00:00Z", nullptr},
      {"2026-11-24T24:00:00Z", nullptr},
      {"2026-11-24T08:59:06", nullptr},
      {"2026-11-24T08:59:06Zjunk", nullptr},
      {"2026-11-24T08:59:06.Z", nullptr},
      {"yesterday", nullptr},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    auto t = parse_iso8601(c.text);
    if (c.expected == nullptr) {
      EXPECT_FALSE(t.has_value()) << c.text;
    } else {
      ASSERT_TRUE(t.has_value()) << c.text;
      EXPECT_EQ(format_iso8601(*t), c.expected) << c.text;
    }
  }
}

}  // namespace
}  // namespace tp
