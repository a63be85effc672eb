#include "channels/email.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "channels/testing/subprocess.h"
#include "channels/text.h"

namespace tp::channels {
namespace {

using testing::kSystemPython;
using testing::TempDir;

const Timestamp kNow = Timestamp(Millis(1751364000000));  // 2025-07-01T10:00:00Z, a Tuesday

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t e = s.find("\r\n", i);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(i, e - i));
    i = e + 2;
  }
  return out;
}

EmailMessage sample() {
  EmailMessage m;
  m.from = {"news@shop.example", "Zoë's Shop"};
  m.to = {{"ana@example.org", "Ana Pérez"}, {"bob@example.net", ""}};
  m.reply_to = EmailAddress{"help@shop.example", "Help, Desk"};
  m.subject = "Ihre Bestellung ist unterwegs — 20 % Rabatt 🎉";
  m.preheader = "Nur heute <bis Mitternacht>";
  m.text =
      "Hallo Ana,\n\nIhre Bestellung ist unterwegs. Größe: M.\n.\nEin sehr langer Absatz, der weit über "
      "sechsundsiebzig Zeichen hinausgeht, damit weiche Zeilenumbrüche nötig werden. Ende   \n";
  m.html = "<html><body><p>Hallo Ana,</p><p>Größe: M — 20 % = gut</p></body></html>";
  m.headers = {{"X-Campaign", "sommer-2025"}, {"X-Note", "café"}};
  m.idempotency_key = "journey:welcome:profile-42:step-3";
  m.kind = EmailKind::kCommercial;
  m.unsubscribe_url = "https://shop.example/u/abc123?list=news";
  m.unsubscribe_mailto = "unsubscribe@shop.example?subject=unsub-abc123";
  return m;
}

// Python's email package reading what we wrote: an independent decoder.
nlohmann::json parse_with_python(const std::string& data) {
  TempDir dir;
  std::string path = (dir.path() / "m.eml").string();
  std::ofstream(path, std::ios::binary) << data;
  auto out = testing::run_and_capture({kSystemPython, std::string(TP_CHANNELS_TESTING_DIR) + "/parse_email.py", path},
                                      Millis(30'000));
  EXPECT_TRUE(out.is_ok()) << out.status().message();
  return out.is_ok() ? nlohmann::json::parse(out.value()) : nlohmann::json();
}

TEST(EmailQuotedPrintable, Cases) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"", ""},
      {"hello", "hello\r\n"},
      {"a=b", "a=3Db\r\n"},
      {"trailing space ", "trailing space=20\r\n"},
      {"tab\t", "tab=09\r\n"},
      {"mid space ok", "mid space ok\r\n"},
      {"é", "=C3=A9\r\n"},
      {"one\ntwo\r\nthree\rfour", "one\r\ntwo\r\nthree\r\nfour\r\n"},
      {"a\n\nb\n", "a\r\n\r\nb\r\n"},
      {".\n.x", "=2E\r\n=2Ex\r\n"},
      {std::string(80, 'a'), std::string(75, 'a') + "=\r\n" + "aaaaa\r\n"},
      {std::string(74, 'a') + "é", std::string(74, 'a') + "=\r\n=C3=A9\r\n"},  // never split an =XX
  };
  for (const auto& c : cases) EXPECT_EQ(encode_quoted_printable(c.in), c.out) << c.in;
}

TEST(EmailQuotedPrintable, LinesStayWithin76) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += (i % 7 == 0) ? "ü= " : "word ";
  for (const auto& line : lines_of(encode_quoted_printable(text))) EXPECT_LE(line.size(), 76u) << line;
}

TEST(EmailHeaders, EncodedWords) {
  EXPECT_EQ(encode_header_text("Plain subject"), "Plain subject");
  EXPECT_EQ(encode_header_text("Héllo"), "=?UTF-8?B?SMOpbGxv?=");
  EXPECT_EQ(encode_header_text("looks =?like?= a word"), "=?UTF-8?B?bG9va3MgPT9saWtlPz0gYSB3b3Jk?=");
  // Long non-ASCII text: several words, each <= 68 characters, none splitting a character.
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "ñandú 🎉 ";
  std::string encoded = encode_header_text(long_text);
  std::string decoded;
  size_t pos = 0;
  int words = 0;
  while (pos < encoded.size()) {
    size_t end = encoded.find(' ', pos);
    if (end == std::string::npos) end = encoded.size();
    std::string word = encoded.substr(pos, end - pos);
    ASSERT_LE(word.size(), 68u);
    ASSERT_EQ(word.substr(0, 10), "=?UTF-8?B?");
    auto bytes = base64_decode(word.substr(10, word.size() - 12));
    ASSERT_TRUE(bytes.has_value());
    EXPECT_TRUE(valid_utf8(*bytes)) << "split character in " << word;
    decoded += *bytes;
    ++words;
    pos = end + 1;
  }
  EXPECT_GT(words, 5);
  EXPECT_EQ(decoded, long_text);
}

TEST(EmailHeaders, Addresses) {
  struct Case {
    EmailAddress in;
    std::string out;
  } cases[] = {
      {{"a@b.example", ""}, "a@b.example"},
      {{"a@b.example", "Ana Smith"}, "Ana Smith <a@b.example>"},
      {{"a@b.example", "Smith, Ana"}, "\"Smith, Ana\" <a@b.example>"},
      {{"a@b.example", "Say \"hi\""}, "\"Say \\\"hi\\\"\" <a@b.example>"},
      {{"a@b.example", "Zoë"}, "=?UTF-8?B?Wm/Dqw==?= <a@b.example>"},
  };
  for (const auto& c : cases) EXPECT_EQ(format_address(c.in), c.out);
  for (std::string bad : {"", "a", "@b.c", "a@", "a b@c.d", "a..b@c.d", "ä@b.c", "a@b_c.d", "a@.b", "a@b.c\r\n"})
    EXPECT_FALSE(valid_email_address(bad)) << bad;
  for (std::string good : {"a@b", "first.last+tag@sub.example.com", "o'brien@x.ie"})
    EXPECT_TRUE(valid_email_address(good)) << good;
}

TEST(EmailHeaders, DateAndFolding) {
  EXPECT_EQ(format_email_date(kNow), "Tue, 01 Jul 2025 10:00:00 +0000");
  EXPECT_EQ(format_email_date(Timestamp(Millis(0))), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(fold_header("Subject", "short"), "Subject: short\r\n");
  std::string words;
  for (int i = 0; i < 40; ++i) words += "word" + std::to_string(i) + " ";
  std::string folded = fold_header("X-Long", words);
  for (const auto& line : lines_of(folded)) EXPECT_LE(line.size(), 78u);
  std::string unfolded = folded;
  for (size_t p; (p = unfolded.find("\r\n ")) != std::string::npos;) unfolded.erase(p, 2);
  EXPECT_EQ(unfolded, "X-Long: " + words + "\r\n");
}

TEST(EmailCompose, StructureAndHeaders) {
  ManualClock clock(kNow);
  auto email = compose_email(sample(), clock);
  ASSERT_TRUE(email.is_ok()) << email.status().message();
  const std::string& d = email->data;
  EXPECT_EQ(email->envelope_from, "news@shop.example");
  EXPECT_EQ(email->recipients, (std::vector<std::string>{"ana@example.org", "bob@example.net"}));
  EXPECT_EQ(email->message_id, message_id_for("journey:welcome:profile-42:step-3", "shop.example"));
  // CRLF only, no line over 78 characters in the header, none over 76 in the bodies.
  EXPECT_EQ(d.find("\n"), d.find("\r\n") + 1);
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == '\n') {
      ASSERT_EQ(d[i - 1], '\r') << "bare LF at " << i;
    }
  }
  for (const auto& line : lines_of(d)) EXPECT_LE(line.size(), 78u) << line;
  for (auto c : d) ASSERT_TRUE(static_cast<unsigned char>(c) < 0x80) << "8-bit byte in message";
  EXPECT_NE(d.find("Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(d.find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(d.find("Message-ID: " + email->message_id + "\r\n"), std::string::npos);
  EXPECT_NE(d.find("List-Unsubscribe: <https://shop.example/u/abc123?list=news>,\r\n"
                   " <mailto:unsubscribe@shop.example?subject=unsub-abc123>\r\n"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), std::string::npos);
  EXPECT_NE(d.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(d.find("X-Campaign: sommer-2025\r\n"), std::string::npos);
  EXPECT_NE(d.find("Content-Type: multipart/alternative;"), std::string::npos);
  // text/plain first, then text/html.
  EXPECT_LT(d.find("Content-Type: text/plain; charset=UTF-8"), d.find("Content-Type: text/html; charset=UTF-8"));
}

TEST(EmailCompose, PythonDecodesWhatWeWrote) {
  ManualClock clock(kNow);
  EmailMessage m = sample();
  auto email = compose_email(m, clock);
  ASSERT_TRUE(email.is_ok()) << email.status().message();
  nlohmann::json parsed = parse_with_python(email->data);
  ASSERT_FALSE(parsed.is_null());
  EXPECT_TRUE(parsed["defects"].empty()) << parsed["defects"];
  EXPECT_EQ(parsed["bare_lf"], 0);
  EXPECT_EQ(parsed["headers"]["Subject"], m.subject);
  EXPECT_EQ(parsed["headers"]["From"], "Zoë's Shop <news@shop.example>");
  EXPECT_EQ(parsed["headers"]["To"], "Ana Pérez <ana@example.org>, bob@example.net");
  EXPECT_EQ(parsed["headers"]["Reply-To"], "\"Help, Desk\" <help@shop.example>");
  EXPECT_EQ(parsed["headers"]["X-Note"], "café");
  EXPECT_EQ(parsed["content_type"], "multipart/alternative");
  ASSERT_EQ(parsed["parts"].size(), 2u);
  EXPECT_EQ(parsed["parts"][0]["content_type"], "text/plain");
  EXPECT_EQ(parsed["parts"][0]["charset"], "utf-8");
  std::string body = parsed["parts"][0]["body"];
  body.erase(std::remove(body.begin(), body.end(), '\r'), body.end());  // compare line ends as LF
  EXPECT_EQ(body, m.text);
  EXPECT_EQ(parsed["parts"][1]["content_type"], "text/html");
  std::string html = parsed["parts"][1]["body"];
  EXPECT_NE(html.find("Größe: M — 20 % = gut"), std::string::npos) << html;
  // The preheader is the first thing in <body>, escaped, and hidden.
  EXPECT_NE(html.find("<body><div style=\"display:none;"), std::string::npos) << html;
  EXPECT_NE(html.find("Nur heute &lt;bis Mitternacht&gt;</div>"), std::string::npos) << html;
}

TEST(EmailCompose, SinglePartAndStableMessageId) {
  ManualClock clock(kNow);
  EmailMessage m;
  m.from = {"a@x.example", ""};
  m.to = {{"b@y.example", ""}};
  m.subject = "Receipt";
  m.text = "Thanks.";
  m.idempotency_key = "order-1";
  auto first = compose_email(m, clock);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_NE(
      first->data.find(
          "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nThanks.\r\n"),
      std::string::npos);
  EXPECT_EQ(first->data.find("multipart"), std::string::npos);
  EXPECT_EQ(first->data.find("List-Unsubscribe"), std::string::npos);
  clock.advance(Millis(3'600'000));  // a retry an hour later: same Message-ID
  auto again = compose_email(m, clock);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->message_id, first->message_id);
  m.idempotency_key = "order-2";
  EXPECT_NE(compose_email(m, clock)->message_id, first->message_id);
  m.message_id = "custom-1@mail.example";
  EXPECT_EQ(compose_email(m, clock)->message_id, "<custom-1@mail.example>");
}

TEST(EmailCompose, ErrorsNameTheField) {
  ManualClock clock(kNow);
  struct Case {
    std::function<void(EmailMessage&)> change;
    std::string error;
  } cases[] = {
      {[](EmailMessage& m) { m.to.clear(); }, "to: at least one recipient"},
      {[](EmailMessage& m) { m.to[1].email = "not an address"; }, "to[1].email: 'not an address'"},
      {[](EmailMessage& m) { m.from.display_name = "a\r\nBcc: x@y.z"; }, "from.display_name: must be one line"},
      {[](EmailMessage& m) { m.subject = "Hi\nBcc: victim@x.y"; }, "subject: must be one line"},
      {[](EmailMessage& m) { m.subject = "\xff\xfe"; }, "subject: not valid UTF-8"},
      {[](EmailMessage& m) { m.html.clear(), m.text.clear(); }, "the message has no body"},
      {[](EmailMessage& m) { m.idempotency_key.clear(); }, "idempotency_key: required"},
      {[](EmailMessage& m) { m.unsubscribe_url = "http://shop.example/u"; },
       "unsubscribe_url: a commercial message needs an https://"},
      {[](EmailMessage& m) { m.unsubscribe_url.clear(); }, "unsubscribe_url: a commercial message needs"},
      {[](EmailMessage& m) { m.unsubscribe_mailto = "mailto:nobody"; }, "unsubscribe_mailto: 'mailto:nobody'"},
      {[](EmailMessage& m) { m.kind = EmailKind::kTransactional; }, "only commercial messages carry List-Unsubscribe"},
      {[](EmailMessage& m) {
         m.headers.push_back({"Bcc", "x@y.z"});
       },
       "headers[2].name: Bcc is written by Touchpoint"},
      {[](EmailMessage& m) {
         m.headers.push_back({"Bad Name", "v"});
       },
       "headers[2].name: 'Bad Name' is not"},
      {[](EmailMessage& m) {
         m.headers.push_back({"X-Ok", "v\r\nBcc: x"});
       },
       "headers[2].value: must be one line"},
      {[](EmailMessage& m) { m.message_id = "no-at-sign"; }, "message_id: 'no-at-sign' is not of the form"},
  };
  for (const auto& c : cases) {
    EmailMessage m = sample();
    c.change(m);
    auto r = compose_email(m, clock);
    ASSERT_FALSE(r.is_ok()) << c.error;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace tp::channels
