#include "tracking/config.h"

#include <gtest/gtest.h>

#include <map>

namespace tp::tracking {
namespace {

EnvironmentLookup env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(TrackingConfig, ParsesTheSection) {
  const std::string yaml = R"(
channels:
  smtp: {host: smtp.shop.example}
tracking:
  base_url: https://t.shop.example/
  secret_env: TRACKING_SECRET
  previous_secrets: ["an older secret that is long enough!"]
  previous_secrets_env: [OLD_TRACKING_SECRET]
  company_name: "Zoë's Shop"
  record_client: true
  purposes:
    - {id: newsletter, label: Newsletter, description: "News and stories, monthly"}
    - id: offers
      label: Offers
    - {id: product-updates, label: Product updates}
)";
  auto config = parse_tracking_config("touchpoint.yaml", yaml,
                                      env({{"TRACKING_SECRET", "a secret from the environment, 32+ bytes"},
                                           {"OLD_TRACKING_SECRET", "the oldest secret, also 32 bytes long"}}));
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  ASSERT_TRUE(config->has_value());
  const TrackingConfig& c = **config;
  EXPECT_EQ(c.base_url, "https://t.shop.example");
  EXPECT_EQ(c.secret, "a secret from the environment, 32+ bytes");
  EXPECT_EQ(c.previous_secrets, (std::vector<std::string>{"an older secret that is long enough!",
                                                          "the oldest secret, also 32 bytes long"}));
  EXPECT_EQ(c.company_name, "Zoë's Shop");
  EXPECT_TRUE(c.record_client);
  ASSERT_EQ(c.purposes.size(), 3u);
  EXPECT_EQ(c.purposes[0].id, "newsletter");
  EXPECT_EQ(c.purposes[0].description, "News and stories, monthly");
  EXPECT_EQ(c.purposes[1].label, "Offers");
  EXPECT_EQ(c.purposes[2].id, "product-updates");
  EXPECT_TRUE(validate_tracking_config(c).is_ok());
}

TEST(TrackingConfig, AbsentSectionAndDefaults) {
  auto none = parse_tracking_config("t.yaml", "channels: {}\n", env({}));
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(parse_tracking_config("t.yaml", "", env({}))->has_value());
  auto minimal =
      parse_tracking_config("t.yaml", "tracking:\n  base_url: http://127.0.0.1:8710\n  company_name: Shop\n", env({}));
  ASSERT_TRUE(minimal.is_ok()) << minimal.status().message();
  EXPECT_EQ((*minimal)->secret, "");  // to be derived by the caller
  EXPECT_FALSE((*minimal)->record_client);
  EXPECT_TRUE((*minimal)->purposes.empty());
}

TEST(TrackingConfig, ReportsEveryProblemWithItsPosition) {
  const std::string yaml = R"(tracking:
  base_url: https://t.shop.example/track
  secret: short
  company_name: ""
  record_client: maybe
  colour: blue
  previous_secrets_env: [MISSING]
  purposes:
    - {id: Newsletter, label: News}
    - {id: offers}
    - {id: offers, label: Offers again}
    - just-a-string
)";
  auto config = parse_tracking_config("touchpoint.yaml", yaml, env({}));
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "touchpoint.yaml:6:3: tracking.colour: unknown key (known: base_url, secret, secret_env, previous_secrets, "
            "previous_secrets_env, company_name, record_client, purposes)\n"
            "touchpoint.yaml:2:13: tracking.base_url: 'https://t.shop.example/track' is not an origin like "
            "https://t.example.com or http://127.0.0.1:8710 (no path)\n"
            "touchpoint.yaml:3:11: tracking.secret: at least 32 bytes are needed, got 5 (make one with: openssl rand "
            "-base64 48)\n"
            "touchpoint.yaml:7:26: tracking.previous_secrets_env[0]: environment variable MISSING is not set\n"
            "touchpoint.yaml:4:17: tracking.company_name: required\n"
            "touchpoint.yaml:5:18: tracking.record_client: 'maybe' is not true or false\n"
            "touchpoint.yaml:9:12: tracking.purposes[0].id: 'Newsletter' is not an id of lower-case letters, digits, "
            "'-' and '_' (starting with a letter or digit)\n"
            "touchpoint.yaml:10:7: tracking.purposes[1].label: required\n"
            "touchpoint.yaml:11:12: tracking.purposes[2].id: 'offers' is listed twice\n"
            "touchpoint.yaml:12:7: tracking.purposes[3]: must be a mapping (key: value lines)");
}

TEST(TrackingConfig, SecretSources) {
  const std::string both =
      "tracking:\n  base_url: https://t.example\n  company_name: S\n  secret: "
      "0123456789abcdef0123456789abcdef\n  secret_env: X\n";
  EXPECT_EQ(parse_tracking_config("f.yaml", both, env({{"X", "y"}})).status().message(),
            "f.yaml:5:15: tracking.secret_env: give secret or secret_env, not both");
  const std::string from_env = "tracking:\n  base_url: https://t.example\n  company_name: S\n  secret_env: X\n";
  EXPECT_EQ(parse_tracking_config("f.yaml", from_env, env({})).status().message(),
            "f.yaml:4:15: tracking.secret_env: environment variable X is not set");
  EXPECT_EQ(parse_tracking_config("f.yaml", from_env, env({{"X", "short"}})).status().message(),
            "f.yaml:4:15: tracking.secret_env: X: at least 32 bytes are needed, got 5 (make one with: openssl rand "
            "-base64 48)");
}

TEST(TrackingConfig, SyntaxAndShapeErrors) {
  EXPECT_EQ(parse_tracking_config("f.yaml", "tracking: [\n", env({})).status().message().substr(0, 20),
            "f.yaml:2:1: YAML syn");
  EXPECT_EQ(parse_tracking_config("f.yaml", "- a\n", env({})).status().message(),
            "f.yaml:1:1: the file must be a mapping (key: value lines)");
  EXPECT_EQ(parse_tracking_config("f.yaml", "tracking: yes\n", env({})).status().message(),
            "f.yaml:1:11: tracking: must be a mapping (key: value lines)");
  EXPECT_EQ(parse_tracking_config("f.yaml", "tracking:\n  company_name: S\n", env({})).status().message(),
            "f.yaml:2:3: tracking.base_url: required");
  EXPECT_EQ(load_tracking_config("/nonexistent/touchpoint.yaml").status().code(), StatusCode::kInvalidArgument);
}

TEST(TrackingConfig, ValidateNamesTheField) {
  TrackingConfig c;
  c.base_url = "https://t.example";
  c.company_name = "Shop";
  EXPECT_TRUE(validate_tracking_config(c).is_ok());
  c.purposes = {{"a", "A", ""}, {"a", "B", ""}};
  EXPECT_EQ(validate_tracking_config(c).message(), "tracking.purposes[1].id: 'a' is listed twice");
  c.purposes = {{"a", "", ""}};
  EXPECT_EQ(validate_tracking_config(c).message(), "tracking.purposes[0].label: required");
  c.purposes.clear();
  c.base_url = "mailto:x@y";
  EXPECT_EQ(validate_tracking_config(c).message().substr(0, 27), "tracking.base_url: 'mailto:");
  c.base_url = "https://t.example";
  c.secret = "short";
  EXPECT_EQ(validate_tracking_config(c).message().substr(0, 52),
            "tracking.secret: at least 32 bytes are needed, got 5");
}

}  // namespace
}  // namespace tp::tracking
