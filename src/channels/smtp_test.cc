#include "channels/smtp.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "channels/testing/fast_smtp_sink.h"
#include "channels/testing/keys.h"
#include "channels/testing/smtp_sink_process.h"
#include "channels/testing/subprocess.h"

namespace tp::channels {
namespace {

using testing::kSystemPython;
using testing::SmtpSinkOptions;
using testing::SmtpSinkProcess;
using testing::TempDir;

const Timestamp kNow = Timestamp(Millis(1751364000000));

class SmtpTest : public ::testing::Test {
 protected:
  std::unique_ptr<SmtpSinkProcess> start_sink(const SmtpSinkOptions& options = {}) {
    auto sink = SmtpSinkProcess::start(dir_.path(), options);
    EXPECT_TRUE(sink.is_ok()) << sink.status().message();
    return sink.is_ok() ? std::move(sink.value()) : nullptr;
  }
  SmtpConfig config(int port) {
    SmtpConfig c;
    c.host = "127.0.0.1";
    c.port = port;
    c.tls = SmtpTls::kNone;
    c.pool_size = 2;
    c.connect_timeout = Millis(5'000);
    c.timeout = Millis(20'000);
    c.helo_name = "touchpoint.test";
    c.from = {"news@shop.example", "Zoë's Shop"};
    return c;
  }
  static EmailMessage message(std::string to = "ana@example.org") {
    EmailMessage m;
    m.to = {{to, "Ana Pérez"}, {"bob@example.net", ""}};
    m.subject = "Ihre Bestellung — 20 % Rabatt 🎉";
    m.preheader = "Nur heute";
    m.text = "Hallo Ana,\n.\nzwei Punkte am Zeilenanfang:\n..\nEnde\n";
    m.html = "<html><body><p>Hallo Ana, Größe M</p></body></html>";
    m.idempotency_key = "journey:1:profile:42:step:3";
    m.kind = EmailKind::kCommercial;
    m.unsubscribe_url = "https://shop.example/u/abc";
    m.unsubscribe_mailto = "mailto:unsub@shop.example";
    return m;
  }
  int run_python(const std::string& script, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kSystemPython, std::string(TP_CHANNELS_TESTING_DIR) + "/" + script};
    argv.insert(argv.end(), args.begin(), args.end());
    int status = -1;
    auto out = testing::run_and_capture(argv, Millis(30'000), &status);
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    last_output_ = out.is_ok() ? out.value() : "";
    return status;
  }
  TempDir dir_;
  TempDir keys_;
  ManualClock clock_{kNow};
  std::string last_output_;
};

TEST_F(SmtpTest, DeliversSignedMimeMessageToARealServer) {
  auto sink = start_sink();
  ASSERT_TRUE(sink);
  std::string key_path = (keys_.path() / "dkim.pem").string();
  std::ofstream(key_path) << testing::generate_rsa_key_pem(2048);
  SmtpConfig c = config(sink->port());
  c.dkim = {key_path, "tp1", "shop.example"};
  auto sender = EmailSender::create(c, clock_);
  ASSERT_TRUE(sender.is_ok()) << sender.status().message();

  DeliveryResult r = (*sender)->send(message());
  ASSERT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.provider_id, message_id_for("journey:1:profile:42:step:3", "shop.example"));
  EXPECT_NE(r.reason.find("250 2.0.0 Message accepted"), std::string::npos) << r.reason;

  auto received = sink->messages();
  ASSERT_EQ(received.size(), 1u);
  const std::string& d = received[0].data;
  EXPECT_EQ(received[0].envelope["mail_from"], "news@shop.example");
  EXPECT_EQ(received[0].envelope["rcpt_tos"], nlohmann::json({"ana@example.org", "bob@example.net"}));
  EXPECT_EQ(d.rfind("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example; s=tp1;", 0), 0u) << d;
  EXPECT_NE(d.find("\r\nSubject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(d.find("\r\nMessage-ID: " + r.provider_id + "\r\n"), std::string::npos);
  EXPECT_NE(d.find("\r\nList-Unsubscribe: <https://shop.example/u/abc>, <mailto:unsub@shop.example>\r\n"),
            std::string::npos);
  EXPECT_NE(d.find("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), std::string::npos);
  EXPECT_NE(d.find("\r\nContent-Type: multipart/alternative;"), std::string::npos);
  // Dot-stuffing survived the trip: the lone "." line arrives as quoted-printable "=2E".
  EXPECT_NE(d.find("\r\n=2E\r\n"), std::string::npos);

  // The received bytes verify with an independent DKIM implementation (dkimpy).
  auto signer = DkimSigner::load("shop.example", "tp1", key_path);
  ASSERT_TRUE(signer.is_ok());
  EXPECT_EQ(run_python("dkim_verify.py", {received[0].file.string(), signer->dns_record()}), 0) << last_output_;
  // And Python's email package decodes the subject and both parts.
  ASSERT_EQ(run_python("parse_email.py", {received[0].file.string()}), 0);
  auto parsed = nlohmann::json::parse(last_output_);
  EXPECT_EQ(parsed["headers"]["Subject"], "Ihre Bestellung — 20 % Rabatt 🎉");
  EXPECT_EQ(parsed["headers"]["From"], "Zoë's Shop <news@shop.example>");
  ASSERT_EQ(parsed["parts"].size(), 2u);
  std::string text = parsed["parts"][0]["body"];
  EXPECT_NE(text.find("\r\n..\r\nEnde"), std::string::npos) << nlohmann::json(text).dump();
}

TEST_F(SmtpTest, PoolReusesConnections) {
  auto sink = start_sink();
  ASSERT_TRUE(sink);
  SmtpConfig c = config(sink->port());
  c.pool_size = 1;
  auto sender = EmailSender::create(c, clock_);
  ASSERT_TRUE(sender.is_ok()) << sender.status().message();
  for (int i = 0; i < 5; ++i) {
    EmailMessage m = message();
    m.idempotency_key = "k" + std::to_string(i);
    ASSERT_TRUE((*sender)->send(m).delivered());
  }
  auto received = sink->messages();
  ASSERT_EQ(received.size(), 5u);
  for (const auto& m : received) EXPECT_EQ(m.envelope["connection"], 1);
  EXPECT_EQ((*sender)->pool().stats().connections_opened, 1u);
  EXPECT_EQ((*sender)->pool().stats().delivered, 5u);

  // Four threads on a pool of two: never more than two connections.
  c.pool_size = 2;
  auto pooled = EmailSender::create(c, clock_);
  ASSERT_TRUE(pooled.is_ok());
  std::vector<std::thread> threads;
  std::atomic<int> delivered{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        EmailMessage m = message();
        m.idempotency_key = "t" + std::to_string(t) + "-" + std::to_string(i);
        if ((*pooled)->send(m).delivered()) ++delivered;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(delivered.load(), 20);
  std::set<int> connections;
  for (const auto& m : sink->messages()) connections.insert(m.envelope["connection"].get<int>());
  EXPECT_LE(connections.size(), 3u);  // connection 1 from above, at most two new ones
  EXPECT_LE((*pooled)->pool().stats().connections_opened, 2u);
}

TEST_F(SmtpTest, RepliesAreClassified) {
  auto sink = start_sink();
  ASSERT_TRUE(sink);
  auto sender = EmailSender::create(config(sink->port()), clock_);
  ASSERT_TRUE(sender.is_ok());
  struct Case {
    std::string recipient;
    DeliveryOutcome outcome;
    int code;
    std::string words;
  } cases[] = {
      {"tempfail@example.org", DeliveryOutcome::kTemporary, 451, "try again later"},
      {"reject@example.org", DeliveryOutcome::kPermanent, 550, "No such user"},
      {"data-tempfail@example.org", DeliveryOutcome::kTemporary, 451, "Greylisted"},
      {"data-reject@example.org", DeliveryOutcome::kPermanent, 554, "rejected as spam"},
      {"ok@example.org", DeliveryOutcome::kDelivered, 250, "accepted"},
  };
  for (const auto& c : cases) {
    DeliveryResult r = (*sender)->send(message(c.recipient));
    EXPECT_EQ(r.outcome, c.outcome) << c.recipient << ": " << r.reason;
    EXPECT_EQ(r.code, c.code) << c.recipient << ": " << r.reason;
    EXPECT_NE(r.reason.find(c.words), std::string::npos) << c.recipient << ": " << r.reason;
  }
  EXPECT_EQ(sink->messages().size(), 1u);  // only the last one was accepted

  EmailMessage bad = message();
  bad.to[0].email = "not an address";
  DeliveryResult r = (*sender)->send(bad);
  EXPECT_TRUE(r.permanent());
  EXPECT_NE(r.reason.find("to[0].email"), std::string::npos) << r.reason;
}

TEST_F(SmtpTest, NoServerIsTemporary) {
  // A port that was just free: nobody listens there.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  auto sender = EmailSender::create(config(ntohs(addr.sin_port)), clock_);
  ASSERT_TRUE(sender.is_ok());
  DeliveryResult r = (*sender)->send(message());
  EXPECT_TRUE(r.temporary()) << r.reason;
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.reason.find("onnect"), std::string::npos) << r.reason;
}

TEST_F(SmtpTest, StartTlsModes) {
  std::string cert = (keys_.path() / "cert.pem").string(), key = (keys_.path() / "key.pem").string();
  ASSERT_TRUE(testing::write_self_signed_certificate(cert, key).is_ok());
  {
    auto tls_sink = start_sink({.tls_cert = cert, .tls_key = key, .require_starttls = true});
    ASSERT_TRUE(tls_sink);
    SmtpConfig c = config(tls_sink->port());
    c.tls = SmtpTls::kRequired;
    c.ca_file = cert;
    auto sender = EmailSender::create(c, clock_);
    ASSERT_TRUE(sender.is_ok());
    DeliveryResult r = (*sender)->send(message());
    EXPECT_TRUE(r.delivered()) << r.reason;
    c.tls = SmtpTls::kOpportunistic;
    EXPECT_TRUE((*EmailSender::create(c, clock_))->send(message()).delivered());
    // Without our CA the certificate is not trusted: no delivery, and no plain-text fallback.
    c.tls = SmtpTls::kRequired;
    c.ca_file = "";
    DeliveryResult untrusted = (*EmailSender::create(c, clock_))->send(message());
    EXPECT_TRUE(untrusted.temporary()) << untrusted.reason;
    // A client that never starts TLS is refused by this server (530): permanent.
    c.tls = SmtpTls::kNone;
    DeliveryResult plain = (*EmailSender::create(c, clock_))->send(message());
    EXPECT_TRUE(plain.permanent()) << plain.reason;
    EXPECT_EQ(plain.code, 530);
    auto received = tls_sink->messages();
    ASSERT_EQ(received.size(), 2u);
    for (const auto& m : received) EXPECT_EQ(m.envelope["tls"], true);
  }
  TempDir plain_dir;
  auto plain_sink = SmtpSinkProcess::start(plain_dir.path());
  ASSERT_TRUE(plain_sink.is_ok());
  SmtpConfig c = config((*plain_sink)->port());
  c.tls = SmtpTls::kRequired;  // the server does not offer STARTTLS
  DeliveryResult r = (*EmailSender::create(c, clock_))->send(message());
  EXPECT_TRUE(r.temporary()) << r.reason;
  EXPECT_NE(r.reason.find("STARTTLS"), std::string::npos) << r.reason;
  c.tls = SmtpTls::kOpportunistic;  // plain text is acceptable then
  EXPECT_TRUE((*EmailSender::create(c, clock_))->send(message()).delivered());
  auto received = (*plain_sink)->messages();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].envelope["tls"], false);
}

TEST_F(SmtpTest, Authentication) {
  auto sink = start_sink({.auth = "mailer:s3cret"});
  ASSERT_TRUE(sink);
  SmtpConfig c = config(sink->port());
  c.username = "mailer";
  c.password = "s3cret";
  DeliveryResult ok = (*EmailSender::create(c, clock_))->send(message());
  EXPECT_TRUE(ok.delivered()) << ok.reason;
  c.password = "wrong";
  DeliveryResult denied = (*EmailSender::create(c, clock_))->send(message());
  EXPECT_TRUE(denied.permanent()) << denied.reason;
  EXPECT_EQ(denied.code, 535);
  c.username.clear();
  DeliveryResult anonymous = (*EmailSender::create(c, clock_))->send(message());
  EXPECT_TRUE(anonymous.permanent()) << anonymous.reason;
  auto received = sink->messages();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].envelope["auth"], "mailer");
}

TEST_F(SmtpTest, BenchmarkSinkSpeaksEnoughSmtp) {
  // bench/smtp_bench measures against this sink: it must take what libcurl sends.
  auto sink = testing::FastSmtpSink::start();
  ASSERT_TRUE(sink.is_ok()) << sink.status().message();
  SmtpConfig c = config((*sink)->port());
  c.pool_size = 1;
  auto sender = EmailSender::create(c, clock_);
  ASSERT_TRUE(sender.is_ok());
  for (int i = 0; i < 3; ++i) {
    EmailMessage m = message();
    m.idempotency_key = "fast-" + std::to_string(i);
    DeliveryResult r = (*sender)->send(m);
    ASSERT_TRUE(r.delivered()) << r.reason;
  }
  EXPECT_EQ((*sink)->messages(), 3u);
  EXPECT_EQ((*sink)->connections(), 1u);
  EXPECT_GT((*sink)->bytes(), 3u * 1000);
}

}  // namespace
}  // namespace tp::channels
