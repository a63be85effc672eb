#include "channels/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "channels/testing/subprocess.h"

namespace tp::channels {
namespace {

std::optional<std::string> fake_env(const std::string& name) {
  static const std::map<std::string, std::string> vars = {{"SMTP_PASSWORD", "from-env"},
                                                          {"TWILIO_TOKEN", "tok"},
                                                          {"HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}};
  auto it = vars.find(name);
  if (it == vars.end()) return std::nullopt;
  return it->second;
}

TEST(ChannelsConfig, FullFile) {
  const std::string yaml = R"(
server:
  port: 8080           # other components' keys are not ours to judge
channels:
  smtp:
    host: smtp.shop.example
    port: 465
    tls: implicit
    ca_file: certs/ca.pem
    username: mailer
    password_env: SMTP_PASSWORD
    helo_name: mta.shop.example
    pool_size: 8
    connect_timeout: 3s
    timeout: 2m
    max_idle: 500ms
    from: "Zoë's Shop <news@shop.example>"
    message_id_domain: mail.shop.example
    dkim:
      key_path: /etc/touchpoint/dkim.pem
      selector: tp2025
      domain: shop.example
  sms:
    base_url: https://api.twilio.com
    account: AC123
    token_env: TWILIO_TOKEN
    sender_id: "+15005550006"
    status_callback_url: https://touchpoint.shop.example/hooks/sms
    timeout: 20s
  webhooks:
    secret_env: HOOK_SECRET
    connect_timeout: 2s
    timeout: 10s
    allow: [10.20.0.0/16, "fd00::/8"]
)";
  auto c = parse_channels_config("/etc/touchpoint/touchpoint.yaml", yaml, fake_env);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  ASSERT_TRUE(c->smtp && c->sms && c->webhooks);
  const SmtpConfig& s = *c->smtp;
  EXPECT_EQ(s.host, "smtp.shop.example");
  EXPECT_EQ(s.port, 465);
  EXPECT_EQ(s.tls, SmtpTls::kImplicit);
  EXPECT_EQ(s.ca_file, "/etc/touchpoint/certs/ca.pem");
  EXPECT_EQ(s.username, "mailer");
  EXPECT_EQ(s.password, "from-env");
  EXPECT_EQ(s.helo_name, "mta.shop.example");
  EXPECT_EQ(s.pool_size, 8u);
  EXPECT_EQ(s.connect_timeout, Millis(3'000));
  EXPECT_EQ(s.timeout, Millis(120'000));
  EXPECT_EQ(s.max_idle, Millis(500));
  EXPECT_EQ(s.from.email, "news@shop.example");
  EXPECT_EQ(s.from.display_name, "Zoë's Shop");
  EXPECT_EQ(s.message_id_domain, "mail.shop.example");
  EXPECT_EQ(s.dkim.key_path, "/etc/touchpoint/dkim.pem");
  EXPECT_EQ(s.dkim.selector, "tp2025");
  EXPECT_EQ(s.dkim.domain, "shop.example");
  EXPECT_EQ(c->sms->base_url, "https://api.twilio.com");
  EXPECT_EQ(c->sms->token, "tok");
  EXPECT_EQ(c->sms->sender_id, "+15005550006");
  EXPECT_EQ(c->sms->timeout, Millis(20'000));
  EXPECT_EQ(c->sms->connect_timeout, Millis(5'000));  // default
  EXPECT_EQ(c->webhooks->secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  EXPECT_EQ(c->webhooks->allow, (std::vector<std::string>{"10.20.0.0/16", "fd00::/8"}));
  EXPECT_EQ(c->webhooks->timeout, Millis(10'000));
}

TEST(ChannelsConfig, AbsentSectionsAndFiles) {
  auto empty = parse_channels_config("t.yaml", "", fake_env);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_FALSE(empty->smtp || empty->sms || empty->webhooks);
  auto other = parse_channels_config("t.yaml", "server: {port: 1}\n", fake_env);
  ASSERT_TRUE(other.is_ok());
  EXPECT_FALSE(other->smtp);
  auto missing = load_channels_config("/nonexistent/touchpoint.yaml");
  EXPECT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/touchpoint.yaml"), std::string::npos);

  testing::TempDir dir;
  std::string path = (dir.path() / "touchpoint.yaml").string();
  std::ofstream(path) << "channels:\n  smtp:\n    host: 127.0.0.1\n    tls: none\n    dkim: {key_path: dkim.pem, "
                         "selector: s, domain: x.example}\n";
  auto loaded = load_channels_config(path, fake_env);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ(loaded->smtp->dkim.key_path, (dir.path() / "dkim.pem").string());
  EXPECT_EQ(loaded->smtp->port, 587);  // default
}

TEST(ChannelsConfig, ErrorsNameFileLineColumn) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"channels:\n  smtp:\n    host: h\n    port: 99999\n",
       "t.yaml:4:11: channels.smtp.port: '99999' is not a whole number from 1 to 65535"},
      {"channels:\n  smtp:\n    host: h\n    tls: starttls\n",
       "t.yaml:4:10: channels.smtp.tls: 'starttls' is not one of none, opportunistic, required, implicit"},
      {"channels:\n  smtp:\n    port: 25\n", "t.yaml:3:5: channels.smtp.host: required"},
      {"channels:\n  smtp:\n    host: h\n    hots: x\n",
       "t.yaml:4:5: channels.smtp.hots: unknown key (known: host, port"},
      {"channels:\n  smtp:\n    host: h\n    timeout: 30\n",
       "t.yaml:4:14: channels.smtp.timeout: '30' is not a duration like 500ms, 10s or 2m"},
      {"channels:\n  smtp:\n    host: h\n    from: not an address\n",
       "t.yaml:4:11: channels.smtp.from: 'not an address' is not an address"},
      {"channels:\n  smtp:\n    host: h\n    password_env: NOPE\n",
       "t.yaml:4:19: channels.smtp.password_env: environment variable NOPE is not set"},
      {"channels:\n  smtp:\n    host: h\n    password: a\n    password_env: SMTP_PASSWORD\n",
       "t.yaml:5:19: channels.smtp.password_env: give password or password_env, not both"},
      {"channels:\n  smtp:\n    host: h\n    dkim:\n      selector: s\n      domain: d.example\n",
       "t.yaml:5:7: channels.smtp.dkim.key_path: required when dkim is given"},
      {"channels:\n  sms:\n    base_url: ftp://x\n    account: a\n    token: t\n    sender_id: s\n",
       "t.yaml:3:15: channels.sms.base_url: 'ftp://x' is not an http(s) URL"},
      {"channels:\n  sms:\n    base_url: https://x\n    account: a\n    sender_id: s\n",
       "t.yaml:3:5: channels.sms.token: required (token or token_env)"},
      {"channels:\n  webhooks:\n    secret: plain\n", "t.yaml:3:13: channels.webhooks.secret: must start with whsec_"},
      {"channels:\n  webhooks:\n    allow: [10.0.0.0/8, 10.0.0.0/99]\n",
       "t.yaml:3:25: channels.webhooks.allow[1]: '10.0.0.0/99' is not an IP network"},
      {"channels:\n  webhooks:\n    allow: 10.0.0.0/8\n", "t.yaml:3:12: channels.webhooks.allow: must be a list"},
      {"channels:\n  email: {}\n", "t.yaml:2:3: channels.email: unknown key (known: smtp, sms, webhooks)"},
      {"channels: [1, 2]\n", "t.yaml:1:11: channels: must be a mapping"},
      {"channels:\n  smtp: {host: [\n", "t.yaml:3:1: YAML syntax:"},
  };
  for (const auto& c : cases) {
    auto r = parse_channels_config("t.yaml", c.yaml, fake_env);
    ASSERT_FALSE(r.is_ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(c.error, 0), 0u) << "got:  " << r.status().message() << "\nwant: " << c.error;
  }
  // Every problem is reported, not only the first.
  auto many =
      parse_channels_config("t.yaml", "channels:\n  smtp:\n    host: h\n    port: 0\n    pool_size: 0\n", fake_env);
  EXPECT_NE(many.status().message().find("\nt.yaml:5:16: channels.smtp.pool_size"), std::string::npos)
      << many.status().message();
}

TEST(ChannelsConfig, Mailboxes) {
  EXPECT_EQ(parse_mailbox("a@b.example")->email, "a@b.example");
  EXPECT_EQ(parse_mailbox("Shop <a@b.example>")->display_name, "Shop");
  EXPECT_EQ(parse_mailbox("\"Shop, Inc.\" <a@b.example>")->display_name, "Shop, Inc.");
  EXPECT_FALSE(parse_mailbox("Shop <>").has_value());
  EXPECT_FALSE(parse_mailbox("").has_value());
}

}  // namespace
}  // namespace tp::channels
