#include "channels/dkim.h"

#include <gtest/gtest.h>

#include <fstream>

#include "channels/email.h"
#include "channels/testing/keys.h"
#include "channels/testing/subprocess.h"

namespace tp::channels {
namespace {

using testing::kSystemPython;
using testing::TempDir;

const Timestamp kNow = Timestamp(Millis(1751364000000));

TEST(DkimCanonicalization, RelaxedBody) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"", ""},
      {"\r\n\r\n", ""},
      {"a  b \t c\r\n", "a b c\r\n"},
      {"line  \r\n\r\n\r\n", "line\r\n"},
      {"x\r\n\r\ny\r\n\r\n", "x\r\n\r\ny\r\n"},
      {"no final crlf", "no final crlf\r\n"},
      {" lead\r\n", " lead\r\n"},
  };
  for (const auto& c : cases) EXPECT_EQ(dkim_relaxed_body(c.in), c.out) << c.in;
}

TEST(DkimCanonicalization, RelaxedHeader) {
  EXPECT_EQ(dkim_relaxed_header("Subject", " Hello   World  "), "subject:Hello World");
  EXPECT_EQ(dkim_relaxed_header("To ", " a@b.c,\r\n\t d@e.f"), "to:a@b.c, d@e.f");
  EXPECT_EQ(dkim_relaxed_header("X-Empty", "   "), "x-empty:");
}

TEST(DkimSigner, RefusesBadKeysAndNames) {
  EXPECT_FALSE(DkimSigner::create("example.com", "s1", "not a key").is_ok());
  EXPECT_NE(
      DkimSigner::create("example.com", "s1", testing::generate_rsa_key_pem(512)).status().message().find("too short"),
      std::string::npos);
  std::string key = testing::generate_rsa_key_pem(2048);
  EXPECT_FALSE(DkimSigner::create("not a domain", "s1", key).is_ok());
  EXPECT_FALSE(DkimSigner::create("example.com", "bad selector", key).is_ok());
  auto missing = DkimSigner::load("example.com", "s1", "/nonexistent/dkim.pem");
  EXPECT_NE(missing.status().message().find("/nonexistent/dkim.pem"), std::string::npos) << missing.status().message();
}

class DkimVerify : public ::testing::Test {
 protected:
  // dkimpy's verdict on `message` with `record` as the selector's TXT record: 0 = pass.
  int verify(const std::string& message, const std::string& record) {
    std::string path = (dir_.path() / ("m" + std::to_string(++n_) + ".eml")).string();
    std::ofstream(path, std::ios::binary) << message;
    int status = -1;
    auto out = testing::run_and_capture(
        {kSystemPython, std::string(TP_CHANNELS_TESTING_DIR) + "/dkim_verify.py", path, record}, Millis(30'000),
        &status);
    EXPECT_TRUE(out.is_ok()) << out.status().message();
    return status;
  }
  EmailMessage message() {
    EmailMessage m;
    m.from = {"news@shop.example", "Zoë's Shop"};
    m.to = {{"ana@example.org", "Ana Pérez"}};
    m.subject = "Größenberatung — jetzt 20 % sparen";
    m.text = "Hallo,\n\n  indented   text with   spaces   \nand trailing lines\n\n\n";
    m.html = "<p>Hallo</p>";
    m.idempotency_key = "k1";
    m.kind = EmailKind::kCommercial;
    m.unsubscribe_url = "https://shop.example/u/1";
    m.unsubscribe_mailto = "mailto:u@shop.example";
    return m;
  }
  TempDir dir_;
  int n_ = 0;
};

TEST_F(DkimVerify, IndependentVerifierAcceptsOurSignature) {
  auto signer = DkimSigner::create("shop.example", "tp2025", testing::generate_rsa_key_pem(2048));
  ASSERT_TRUE(signer.is_ok()) << signer.status().message();
  ManualClock clock(kNow);
  auto email = compose_email(message(), clock);
  ASSERT_TRUE(email.is_ok()) << email.status().message();
  std::string data = email->data;
  ASSERT_TRUE(signer->sign(data, kNow).is_ok());
  ASSERT_EQ(data.rfind("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example; s=tp2025;", 0), 0u)
      << data;
  size_t end = data.find("\r\n\r\n");
  std::string field = data.substr(0, data.find("\r\nDate:"));
  EXPECT_NE(
      field.find(
          "h=from:to:subject:date:message-id:mime-version:content-type:list-unsubscribe:list-unsubscribe-post:from;"),
      std::string::npos)
      << field;
  EXPECT_NE(field.find("t=1751364000;"), std::string::npos);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(verify(data, signer->dns_record()), 0);

  // Changes in transit that relaxed canonicalization forgives: refolding, extra spaces.
  std::string refolded = data;
  size_t subject = refolded.find("\r\nSubject: ");
  refolded.replace(subject, 11, "\r\nSubject:   ");
  EXPECT_EQ(verify(refolded, signer->dns_record()), 0);

  // Changes it does not: a changed body, a changed signed header, a second From, another key.
  std::string body_changed = data;
  body_changed.replace(body_changed.find("Hallo"), 5, "Hello");
  EXPECT_NE(verify(body_changed, signer->dns_record()), 0);
  std::string header_changed = data;
  header_changed.replace(header_changed.find("https://shop.example/u/1"), 24, "https://evil.example/u/1");
  EXPECT_NE(verify(header_changed, signer->dns_record()), 0);
  std::string second_from = data;
  second_from.insert(end + 2, "From: attacker@evil.example\r\n");
  EXPECT_NE(verify(second_from, signer->dns_record()), 0);
  auto other = DkimSigner::create("shop.example", "tp2025", testing::generate_rsa_key_pem(2048));
  EXPECT_NE(verify(data, other->dns_record()), 0);
}

TEST_F(DkimVerify, EmptyBodyAndSinglePart) {
  auto signer = DkimSigner::create("x.example", "s", testing::generate_rsa_key_pem(1024));
  ASSERT_TRUE(signer.is_ok());
  std::string data = "From: a@x.example\r\nTo: b@y.example\r\nSubject: hi\r\n\r\n";
  ASSERT_TRUE(signer->sign(data, kNow).is_ok());
  EXPECT_EQ(verify(data, signer->dns_record()), 0);
  std::string no_from = "To: b@y.example\r\n\r\nbody\r\n";
  EXPECT_FALSE(signer->sign(no_from, kNow).is_ok());
}

}  // namespace
}  // namespace tp::channels
