#include "channels/webhook.h"

#include <gtest/gtest.h>

#include <fstream>

#include "channels/address_guard.h"
#include "channels/testing/http_server.h"
#include "channels/testing/subprocess.h"

namespace tp::channels {
namespace {

using testing::CannedResponse;
using testing::LoopbackHttpServer;
using testing::RecordedRequest;

const Timestamp kNow = Timestamp(Millis(1751364000000));
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

TEST(AddressGuard, ClassifiesAddresses) {
  struct Case {
    std::string address;
    std::string reason;  // empty: public
  } cases[] = {
      {"93.184.216.34", ""},
      {"8.8.8.8", ""},
      {"2606:4700:4700::1111", ""},
      {"127.0.0.1", "loopback"},
      {"127.255.0.9", "loopback"},
      {"10.1.2.3", "private (RFC 1918)"},
      {"172.16.0.1", "private (RFC 1918)"},
      {"172.31.255.255", "private (RFC 1918)"},
      {"172.32.0.1", ""},
      {"192.168.1.1", "private (RFC 1918)"},
      {"100.64.0.1", "shared address space (CGNAT)"},
      {"100.127.255.255", "shared address space (CGNAT)"},
      {"100.128.0.1", ""},
      {"169.254.169.254", "cloud metadata"},
      {"169.254.1.1", "link-local"},
      {"0.0.0.0", "unspecified"},
      {"224.0.0.1", "multicast"},
      {"255.255.255.255", "broadcast"},
      {"::", "unspecified"},
      {"::1", "loopback"},
      {"fd00:ec2::254", "cloud metadata"},
      {"fd12:3456::1", "unique local"},
      {"fc00::1", "unique local"},
      {"fe80::1", "link-local"},
      {"ff02::1", "multicast"},
      {"::ffff:127.0.0.1", "loopback (inside an IPv6 address)"},
      {"::ffff:169.254.169.254", "cloud metadata (inside an IPv6 address)"},
      {"64:ff9b::a00:1", "private (RFC 1918) (inside an IPv6 address)"},
      {"::ffff:8.8.8.8", ""},
  };
  for (const auto& c : cases) {
    auto ip = IpAddress::parse(c.address);
    ASSERT_TRUE(ip.has_value()) << c.address;
    auto reason = non_public_reason(*ip);
    EXPECT_EQ(reason.value_or(""), c.reason) << c.address;
  }
}

TEST(AddressGuard, AllowListAndResolution) {
  EXPECT_FALSE(AddressGuard::create({"10.0.0.0/33"}).is_ok());
  EXPECT_NE(AddressGuard::create({"ok", "nope"}).status().message().find("allow[0]: 'ok'"), std::string::npos);
  auto guard = AddressGuard::create({"127.0.0.0/8", "fd00::/8"});
  ASSERT_TRUE(guard.is_ok());
  EXPECT_TRUE(guard->check(*IpAddress::parse("127.0.0.1")).is_ok());
  EXPECT_TRUE(guard->check(*IpAddress::parse("::ffff:127.0.0.1")).is_ok());
  EXPECT_TRUE(guard->check(*IpAddress::parse("fd00:ec2::254")).is_ok());  // allowed explicitly
  Status refused = guard->check(*IpAddress::parse("10.0.0.1"));
  EXPECT_EQ(refused.message(), "10.0.0.1 is a private (RFC 1918) address, refused (not in the allow-list)");
  EXPECT_FALSE(guard->check(*IpAddress::parse("::1")).is_ok());
  // "localhost" resolves to 127.0.0.1 and (usually) ::1; any refused address refuses the host.
  auto none = AddressGuard::create({});
  auto localhost = none->resolve("localhost");
  EXPECT_FALSE(localhost.is_ok());
  EXPECT_NE(localhost.status().message().find("loopback"), std::string::npos) << localhost.status().message();
  // Forms of 127.0.0.1 that resolvers accept are resolved, then refused.
  for (std::string host : {"2130706433", "0x7f000001", "127.1", "[::ffff:7f00:1]"}) {
    auto r = none->resolve(host);
    EXPECT_FALSE(r.is_ok()) << host;
  }
  EXPECT_FALSE(none->resolve("no-such-host.invalid").is_ok());
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = LoopbackHttpServer::start("127.0.0.1", [](const RecordedRequest& r) {
      CannedResponse c;
      if (r.target == "/500") c.status = 500, c.body = "upstream\nbroken";
      if (r.target == "/503") c.status = 503, c.headers = {{"Retry-After", "30"}};
      if (r.target == "/429") c.status = 429, c.headers = {{"Retry-After", "120"}};
      if (r.target == "/404") c.status = 404, c.body = "no such hook";
      if (r.target == "/410") c.status = 410;
      if (r.target == "/302") c.status = 302, c.headers = {{"Location", "http://127.0.0.1:1/elsewhere"}};
      if (r.target == "/hang") c.hang = true;
      if (r.target == "/ok") c.status = 204;
      return c;
    });
    ASSERT_TRUE(server.is_ok()) << server.status().message();
    server_ = std::move(server.value());
  }
  std::unique_ptr<WebhookSender> sender(std::vector<std::string> allow = {"127.0.0.0/8"}) {
    WebhookConfig config;
    config.secret = kSecret;
    config.allow = std::move(allow);
    config.connect_timeout = Millis(2'000);
    config.timeout = Millis(10'000);
    auto s = WebhookSender::create(config, clock_);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.is_ok() ? std::move(s.value()) : nullptr;
  }
  std::string url(const std::string& path) { return "http://127.0.0.1:" + std::to_string(server_->port()) + path; }
  ManualClock clock_{kNow};
  std::unique_ptr<LoopbackHttpServer> server_;
};

TEST(WebhookSignature, StandardWebhooksVector) {
  // The example of the Standard Webhooks reference libraries.
  auto key = decode_webhook_secret(kSecret);
  ASSERT_TRUE(key.is_ok());
  EXPECT_EQ(sign_webhook(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_FALSE(decode_webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
  EXPECT_FALSE(decode_webhook_secret("whsec_!!!").is_ok());
  EXPECT_FALSE(decode_webhook_secret("whsec_c2hvcnQ=").is_ok());  // 5 bytes: too short
}

TEST_F(WebhookTest, DeliversSignedRequest) {
  auto s = sender();
  std::string body = R"({"type":"journey.step","data":{"profile":"p-42","step":"welcome","name":"Zoë"}})";
  DeliveryResult r = s->send({url("/hooks/in?x=1"), "evt_0001", body, ""});
  ASSERT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ(r.provider_id, "evt_0001");
  EXPECT_EQ(r.code, 200);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& got = requests[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/hooks/in?x=1");
  EXPECT_EQ(got.body, body);
  EXPECT_EQ(got.headers.at("content-type"), "application/json");
  EXPECT_EQ(got.headers.at("webhook-id"), "evt_0001");
  EXPECT_EQ(got.headers.at("webhook-timestamp"), "1751364000");
  // Checked with Python's hmac, from the bytes the server received.
  testing::TempDir dir;
  std::string body_file = (dir.path() / "body").string();
  std::ofstream(body_file, std::ios::binary) << got.body;
  int status = -1;
  auto out =
      testing::run_and_capture({testing::kSystemPython, std::string(TP_CHANNELS_TESTING_DIR) + "/verify_webhook.py",
                                kSecret, got.headers.at("webhook-id"), got.headers.at("webhook-timestamp"),
                                got.headers.at("webhook-signature"), body_file},
                               Millis(30'000), &status);
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(status, 0) << out.value();
  // A tampered body does not verify.
  std::ofstream(body_file, std::ios::binary) << got.body << " ";
  out = testing::run_and_capture({testing::kSystemPython, std::string(TP_CHANNELS_TESTING_DIR) + "/verify_webhook.py",
                                  kSecret, got.headers.at("webhook-id"), got.headers.at("webhook-timestamp"),
                                  got.headers.at("webhook-signature"), body_file},
                                 Millis(30'000), &status);
  EXPECT_EQ(status, 1);

  // A retry carries the same webhook-id, a new timestamp, and a per-endpoint secret if given.
  clock_.advance(Millis(60'000));
  std::string other = "whsec_" + std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_TRUE(s->send({url("/ok"), "evt_0001", body, other}).delivered());
  auto retry = server_->requests().back();
  EXPECT_EQ(retry.headers.at("webhook-id"), "evt_0001");
  EXPECT_EQ(retry.headers.at("webhook-timestamp"), "1751364060");
  EXPECT_EQ(retry.headers.at("webhook-signature"),
            sign_webhook(*decode_webhook_secret(other), "evt_0001", 1751364060, body));
}

TEST_F(WebhookTest, AnswersAreClassified) {
  auto s = sender();
  struct Case {
    std::string path;
    DeliveryOutcome outcome;
    int code;
    std::optional<Millis> retry_after;
    std::string words;
  } cases[] = {
      {"/ok", DeliveryOutcome::kDelivered, 204, {}, "HTTP 204"},
      {"/500", DeliveryOutcome::kTemporary, 500, {}, "HTTP 500: upstream broken"},
      {"/503", DeliveryOutcome::kTemporary, 503, Millis(30'000), "HTTP 503"},
      {"/429", DeliveryOutcome::kTemporary, 429, Millis(120'000), "HTTP 429"},
      {"/404", DeliveryOutcome::kPermanent, 404, {}, "HTTP 404: no such hook"},
      {"/410", DeliveryOutcome::kPermanent, 410, {}, "HTTP 410"},
      {"/302", DeliveryOutcome::kPermanent, 302, {}, "redirect to 'http://127.0.0.1:1/elsewhere' not followed"},
  };
  for (const auto& c : cases) {
    DeliveryResult r = s->send({url(c.path), "evt_" + c.path.substr(1), "{}", ""});
    EXPECT_EQ(r.outcome, c.outcome) << c.path << ": " << r.reason;
    EXPECT_EQ(r.code, c.code) << c.path;
    EXPECT_EQ(r.retry_after, c.retry_after) << c.path;
    EXPECT_NE(r.reason.find(c.words), std::string::npos) << c.path << ": " << r.reason;
  }
  // The redirect was not followed: exactly one request per case reached the server.
  EXPECT_EQ(server_->requests().size(), std::size(cases));
}

TEST_F(WebhookTest, TimeoutIsTemporary) {
  WebhookConfig config;
  config.secret = kSecret;
  config.allow = {"127.0.0.1/32"};
  config.timeout = Millis(300);
  auto s = WebhookSender::create(config, clock_);
  ASSERT_TRUE(s.is_ok());
  DeliveryResult r = (*s)->send({url("/hang"), "evt_slow", "{}", ""});
  EXPECT_TRUE(r.temporary()) << r.reason;
  EXPECT_NE(r.reason.find("timed out"), std::string::npos) << r.reason;
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(WebhookTest, SsrfGuardRefusesInternalAddresses) {
  auto s = sender({});  // nothing allowed
  std::string port = std::to_string(server_->port());
  struct Case {
    std::string url;
    std::string words;
  } cases[] = {
      {"http://127.0.0.1:" + port + "/ok", "127.0.0.1 is a loopback address, refused"},
      {"http://localhost:" + port + "/ok", "localhost: "},
      {"http://[::1]:" + port + "/ok", "::1 is a loopback address"},
      {"http://10.0.0.7/hook", "private (RFC 1918)"},
      {"http://192.168.1.20:8080/hook", "private (RFC 1918)"},
      {"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
      {"http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"},
      {"http://100.64.1.1/", "CGNAT"},
      {"http://[fe80::1]/", "link-local"},
      {"http://0.0.0.0:" + port + "/", "unspecified"},
      {"http://2130706433:" + port + "/ok", "loopback"},
      {"http://[::ffff:127.0.0.1]:" + port + "/ok", "loopback (inside an IPv6 address)"},
      {"ftp://example.com/x", "scheme 'ftp' is not http or https"},
      {"http://user:pw@example.com/", "credentials in the URL"},
      {"not a url", "not a valid absolute URL"},
  };
  for (const auto& c : cases) {
    DeliveryResult r = s->send({c.url, "evt_1", "{}", ""});
    EXPECT_TRUE(r.permanent()) << c.url << ": " << r.reason;
    EXPECT_NE(r.reason.find(c.words), std::string::npos) << c.url << ": " << r.reason;
  }
  EXPECT_TRUE(server_->requests().empty());  // nothing got through
}

TEST_F(WebhookTest, AllowListedLoopbackByNameIsPinned) {
  // localhost passes only when every address it resolves to is allowed; the connection then
  // goes to a checked address.
  auto s = sender({"127.0.0.0/8", "::1/128"});
  std::string port = std::to_string(server_->port());
  DeliveryResult r = s->send({"http://localhost:" + port + "/ok", "evt_local", "{}", ""});
  ASSERT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ(server_->requests().at(0).headers.at("host"), "localhost:" + port);
  auto only_v4 = sender({"127.0.0.0/8"});
  DeliveryResult partial = only_v4->send({"http://localhost:" + port + "/ok", "evt_local", "{}", ""});
  if (AddressGuard::create({"127.0.0.0/8"})->resolve("localhost").is_ok()) {
    EXPECT_TRUE(partial.delivered()) << partial.reason;  // this machine's localhost is IPv4 only
  } else {
    EXPECT_TRUE(partial.permanent()) << partial.reason;
    EXPECT_NE(partial.reason.find("::1 is a loopback address"), std::string::npos) << partial.reason;
  }
}

TEST_F(WebhookTest, ConnectionGoesOnlyToThePinnedAddress) {
  // The name does not exist in DNS: the request can only arrive if libcurl used our pin and
  // did no resolution of its own (which DNS rebinding would need).
  auto client = HttpClient::create(1);
  ASSERT_TRUE(client.is_ok());
  std::string port = std::to_string(server_->port());
  HttpRequest request;
  request.url = "http://hooks.pinned.invalid:" + port + "/ok";
  request.pinned = "hooks.pinned.invalid:" + port + ":127.0.0.1";
  HttpResponse r = (*client)->post(request);
  EXPECT_EQ(r.failure, HttpFailure::kNone) << r.error;
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.peer_ip, "127.0.0.1");
  EXPECT_EQ(server_->requests().at(0).headers.at("host"), "hooks.pinned.invalid:" + port);
  request.pinned.clear();  // without the pin the name does not resolve
  request.url = "http://other.pinned.invalid:" + port + "/ok";
  EXPECT_EQ((*client)->post(request).failure, HttpFailure::kConnect);
}

TEST(WebhookIpv6, DeliversToAllowedIpv6Loopback) {
  auto server = LoopbackHttpServer::start("::1", [](const RecordedRequest&) { return CannedResponse{}; });
  if (!server.is_ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status().message();
  ManualClock clock(kNow);
  WebhookConfig config;
  config.secret = kSecret;
  config.allow = {"::1/128"};
  auto s = WebhookSender::create(config, clock);
  ASSERT_TRUE(s.is_ok());
  DeliveryResult r = (*s)->send({"http://[::1]:" + std::to_string((*server)->port()) + "/v6", "evt_v6", "{}", ""});
  EXPECT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ((*server)->requests().size(), 1u);
}

TEST(WebhookConfigErrors, Refused) {
  ManualClock clock(kNow);
  WebhookConfig config;
  config.secret = "not-a-secret";
  EXPECT_NE(WebhookSender::create(config, clock).status().message().find("whsec_"), std::string::npos);
  config.secret = kSecret;
  config.allow = {"10.0.0.0/8", "bogus"};
  EXPECT_NE(WebhookSender::create(config, clock).status().message().find("allow[1]: 'bogus'"), std::string::npos);
  config.allow = {};
  auto s = WebhookSender::create(config, clock);
  ASSERT_TRUE(s.is_ok());
  EXPECT_TRUE((*s)->send({"https://example.com/", "has space", "{}", ""}).permanent());
  EXPECT_TRUE((*s)->send({"https://example.com/", "", "{}", ""}).permanent());
}

}  // namespace
}  // namespace tp::channels
