#include "tracking/links.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <memory>

#include "base/crypto.h"

namespace tp::tracking {
namespace {

using namespace std::string_literals;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret\xff\x00\x01"s;
const Timestamp kNow = Timestamp(std::chrono::seconds(1795510800));  // 2026-11-24T09:00:00Z

LinkContext context() { return {"4711:confirmation:0", "u-åsa-1", "conversion-from-web", "confirmation"}; }

LinkSigner signer(const Clock& clock, std::string_view secret = kSecret) {
  auto s = LinkSigner::create(secret, "https://t.shop.example", clock);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return std::move(s).value();
}

std::string token_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }

std::string run(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  EXPECT_TRUE(pipe != nullptr);
  std::array<char, 4096> buffer;
  while (pipe && fgets(buffer.data(), buffer.size(), pipe.get())) out += buffer.data();
  return out;
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TEST(LinkSigner, RoundTripsEveryKind) {
  ManualClock clock(kNow + Millis(999));  // issue times are whole seconds
  LinkSigner s = signer(clock);
  struct Case {
    LinkKind kind;
    std::string destination;
  };
  for (const Case& c : {Case{LinkKind::kOpen, ""}, Case{LinkKind::kClick, "https://shop.example/a?b=1&c=%C3%A5#frag"},
                        Case{LinkKind::kUnsubscribe, ""}, Case{LinkKind::kPreferences, ""}}) {
    SCOPED_TRACE(std::string(link_kind_name(c.kind)));
    auto url = s.url(c.kind, context(), c.destination);
    ASSERT_TRUE(url.is_ok()) << url.status().message();
    std::string token = token_of(*url);
    if (c.kind == LinkKind::kOpen) {
      ASSERT_EQ(token.substr(token.size() - 4), ".gif");
      token.resize(token.size() - 4);
    }
    EXPECT_EQ(*url, "https://t.shop.example" + link_path(c.kind, token));
    auto claims = s.verify(token);
    ASSERT_TRUE(claims.is_ok()) << claims.status().message();
    EXPECT_EQ(claims->kind, c.kind);
    EXPECT_EQ(claims->context.message_key, "4711:confirmation:0");
    EXPECT_EQ(claims->context.user_id, "u-åsa-1");
    EXPECT_EQ(claims->context.journey, "conversion-from-web");
    EXPECT_EQ(claims->context.step, "confirmation");
    EXPECT_EQ(claims->url, c.destination);
    EXPECT_EQ(claims->issued_at, kNow);
    // Nothing readable in the URL: neither the user id nor the destination.
    EXPECT_EQ(url->find("u-"), std::string::npos);
    EXPECT_EQ(url->find("shop.example/a"), std::string::npos);
  }
}

TEST(LinkSigner, PathShapes) {
  EXPECT_EQ(link_path(LinkKind::kOpen, "T"), "/t/o/T.gif");
  EXPECT_EQ(link_path(LinkKind::kClick, "T"), "/t/c/T");
  EXPECT_EQ(link_path(LinkKind::kUnsubscribe, "T"), "/t/u/T");
  EXPECT_EQ(link_path(LinkKind::kPreferences, "T"), "/t/p/T");
}

TEST(LinkSigner, SameClaimsSameTokenOtherSecondOtherToken) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  auto a = s.url(LinkKind::kOpen, context());
  auto b = s.url(LinkKind::kOpen, context());
  clock.advance(Millis(1000));
  auto c = s.url(LinkKind::kOpen, context());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  // Links of one email share one issue time.
  auto links = s.email_links(context());
  ASSERT_TRUE(links.is_ok());
  EXPECT_EQ(s.verify(token_of(links->unsubscribe_url))->issued_at,
            s.verify(token_of(links->preferences_url))->issued_at);
}

TEST(LinkSigner, EmptyJourneyAndStepAreAllowed) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  auto url = s.url(LinkKind::kUnsubscribe, {"receipt-1", "u1", "", ""});
  ASSERT_TRUE(url.is_ok());
  auto claims = s.verify(token_of(*url));
  ASSERT_TRUE(claims.is_ok());
  EXPECT_EQ(claims->context.journey, "");
}

TEST(LinkSigner, RefusesEveryChangedCharacter) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  std::string token = token_of(*s.url(LinkKind::kClick, context(), "https://shop.example/spring-sale"));
  ASSERT_TRUE(s.verify(token).is_ok());
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %";
  int tried = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    for (char c : alphabet) {
      if (c == token[i]) continue;
      std::string changed = token;
      changed[i] = c;
      ++tried;
      ASSERT_FALSE(s.verify(changed).is_ok()) << "position " << i << " as '" << c << "': " << changed;
    }
  }
  EXPECT_GT(tried, 1000);
  for (size_t n = 0; n < token.size(); ++n) EXPECT_FALSE(s.verify(token.substr(0, n)).is_ok()) << n;
  EXPECT_FALSE(s.verify(token + "A").is_ok());
  EXPECT_FALSE(s.verify(token + ".").is_ok());
  EXPECT_FALSE(s.verify("A" + token).is_ok());
}

TEST(LinkSigner, RefusesEveryFlippedBitOfTheDecodedToken) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  std::string token = token_of(*s.url(LinkKind::kUnsubscribe, context()));
  size_t dot = token.find('.');
  std::string body = *base64url_decode(token.substr(0, dot));
  std::string tag = *base64url_decode(token.substr(dot + 1));
  for (size_t i = 0; i < body.size() + tag.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = body, t = tag;
      (i < b.size() ? b[i] : t[i - b.size()]) ^= static_cast<char>(1 << bit);
      ASSERT_FALSE(s.verify(base64url_encode(b) + "." + base64url_encode(t)).is_ok()) << i << ":" << bit;
    }
  }
}

TEST(LinkSigner, RefusesAnotherSecretAndAcceptsPreviousSecrets) {
  ManualClock clock(kNow);
  LinkSigner old_signer = signer(clock);
  LinkSigner other = signer(clock, "another secret that is long enough, 32+");
  std::string token = token_of(*old_signer.url(LinkKind::kUnsubscribe, context()));
  EXPECT_FALSE(other.verify(token).is_ok());
  EXPECT_EQ(other.verify(token).status().code(), StatusCode::kNotFound);

  auto rotated = LinkSigner::create("the new secret, also long enough!!", "https://t.shop.example", clock, {kSecret});
  ASSERT_TRUE(rotated.is_ok());
  EXPECT_TRUE(rotated->verify(token).is_ok());  // links in mail already sent keep working
  std::string fresh = token_of(*rotated->url(LinkKind::kUnsubscribe, context()));
  EXPECT_FALSE(old_signer.verify(fresh).is_ok());  // new links use the new secret
  EXPECT_NE(fresh, token);
}

TEST(LinkSigner, ClickTargetCannotBeSwapped) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  // Same length, so that the ciphertexts line up byte for byte.
  std::string a = token_of(*s.url(LinkKind::kClick, context(), "https://shop.example/aaaa"));
  std::string b = token_of(*s.url(LinkKind::kClick, context(), "https://evil.example/zzzz"));
  ASSERT_EQ(a.size(), b.size());
  size_t dot = a.find('.');
  // Body of one with the tag of the other.
  EXPECT_FALSE(s.verify(a.substr(0, dot) + b.substr(dot)).is_ok());
  EXPECT_FALSE(s.verify(b.substr(0, dot) + a.substr(dot)).is_ok());
  // CTR is malleable: flip the ciphertext so that it decrypts to another URL. The tag catches it.
  std::string body = *base64url_decode(a.substr(0, dot));
  const std::string from = "shop.example/aaaa", to = "evil.example/zzzz";
  size_t at = body.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) body[at + i] ^= static_cast<char>(from[i] ^ to[i]);
  EXPECT_FALSE(s.verify(base64url_encode(body) + a.substr(dot)).is_ok());
}

TEST(LinkSigner, TokenFormatMatchesAnIndependentImplementation) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  const std::string tool = "/usr/bin/python3 " TP_TRACKING_TESTING_DIR "/token_tool.py";
  const std::string secret_hex = hex_encode(kSecret);
  std::string url = *s.url(LinkKind::kClick, context(), "https://shop.example/x?y=1");
  auto decoded = nlohmann::json::parse(run(tool + " decode " + secret_hex + " " + shell_quote(token_of(url))));
  EXPECT_EQ(decoded["valid"], true);
  EXPECT_EQ(decoded["kind"], 2);
  EXPECT_EQ(decoded["issued"], 1795510800);
  EXPECT_EQ(decoded["fields"],
            nlohmann::json({"4711:confirmation:0", "u-åsa-1", "conversion-from-web", "confirmation"}));
  EXPECT_EQ(decoded["url"], "https://shop.example/x?y=1");
  // A token made by the other implementation verifies here, and is the same token.
  std::string issued =
      run(tool + " issue " + secret_hex + " 2 1795510800 " + shell_quote("4711:confirmation:0") + " " +
          shell_quote("u-åsa-1") + " conversion-from-web confirmation " + shell_quote("https://shop.example/x?y=1"));
  while (!issued.empty() && issued.back() == '\n') issued.pop_back();
  EXPECT_EQ(issued, token_of(url));
  auto claims = s.verify(issued);
  ASSERT_TRUE(claims.is_ok()) << claims.status().message();
  EXPECT_EQ(claims->url, "https://shop.example/x?y=1");
  auto other = nlohmann::json::parse(run(tool + " decode " + hex_encode("x" + kSecret) + " " + shell_quote(issued)));
  EXPECT_EQ(other["valid"], false);
}

TEST(LinkSigner, RefusesKindsFieldsAndURLsOutOfBounds) {
  ManualClock clock(kNow);
  LinkSigner s = signer(clock);
  struct Case {
    LinkKind kind;
    LinkContext context;
    std::string destination;
    std::string error;
  };
  const std::string long_field(kMaxTokenFieldBytes + 1, 'k');
  const Case cases[] = {
      {LinkKind::kOpen, {"", "u1", "j", "s"}, "", "message_key: required"},
      {LinkKind::kOpen, {"k", "", "j", "s"}, "", "user_id: required"},
      {LinkKind::kOpen, {long_field, "u1", "j", "s"}, "", "message_key: longer than 512 bytes"},
      {LinkKind::kOpen, {"k", "u\xff", "j", "s"}, "", "user_id: not valid UTF-8"},
      {LinkKind::kOpen, {"k", "u1", "j", "s"}, "https://x.example", "url: only click links take a destination"},
      {LinkKind::kClick, {"k", "u1", "j", "s"}, "javascript:alert(1)", "url: 'javascript:alert(1)' is not an absolute"},
      {LinkKind::kClick, {"k", "u1", "j", "s"}, "//x.example/a", "is not an absolute"},
      {LinkKind::kClick, {"k", "u1", "j", "s"}, "https:///path", "is not an absolute"},
      {LinkKind::kClick, {"k", "u1", "j", "s"}, "https://x.example/" + std::string(kMaxLinkUrlBytes, 'a'), "is not"},
  };
  for (const Case& c : cases) {
    auto url = s.url(c.kind, c.context, c.destination);
    ASSERT_FALSE(url.is_ok()) << c.error;
    EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(url.status().message().find(c.error), std::string::npos) << url.status().message();
  }
}

TEST(LinkSigner, CreateChecksSecretAndBaseUrl) {
  ManualClock clock(kNow);
  EXPECT_EQ(LinkSigner::create("short", "https://t.example", clock).status().message(),
            "secret: at least 32 bytes are needed, got 5");
  struct Case {
    std::string base;
    bool ok;
    std::string normalized;
  };
  const Case cases[] = {
      {"https://t.shop.example", true, "https://t.shop.example"},
      {"https://t.shop.example/", true, "https://t.shop.example"},
      {"http://127.0.0.1:8710", true, "http://127.0.0.1:8710"},
      {"http://[::1]:8710", true, "http://[::1]:8710"},
      {"https://t.shop.example/track", false, ""},
      {"https://t.shop.example?x=1", false, ""},
      {"https://user@t.shop.example", false, ""},
      {"ftp://t.shop.example", false, ""},
      {"t.shop.example", false, ""},
      {"", false, ""},
      {"https://", false, ""},
  };
  for (const Case& c : cases) {
    auto s = LinkSigner::create(kSecret, c.base, clock);
    EXPECT_EQ(s.is_ok(), c.ok) << c.base;
    if (s.is_ok()) {
      EXPECT_EQ(s->base_url(), c.normalized);
    } else {
      EXPECT_EQ(s.status().message().rfind("base_url: ", 0), 0u) << s.status().message();
    }
  }
}

TEST(Base64Url, IsStrict) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_encode("hello"), "aGVsbG8");
  struct Case {
    std::string text;
    std::optional<std::string> bytes;
  };
  const Case cases[] = {
      {"", std::string()},
      {"aGVsbG8", std::string("hello")},
      {"-_8", std::string("\xfb\xff")},
      {"aGVsbG9=", std::nullopt},  // padding
      {"aGVsbG9", std::nullopt},   // non-zero unused bits: another spelling of "hello"
      {"aGVsbG+", std::nullopt},   // standard alphabet
      {"aGVsb/8", std::nullopt},
      {"a", std::nullopt},  // no whole byte
      {"aGVs bG8", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(base64url_decode(c.text), c.bytes) << c.text;
  for (int n = 0; n < 64; ++n) {
    std::string bytes = random_bytes(static_cast<size_t>(n));
    EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes);
  }
}

TEST(Claims, DecodeRefusesWhatEncodeWouldNotProduce) {
  LinkClaims c{LinkKind::kClick, context(), "https://shop.example/", kNow};
  std::string bytes = *encode_claims(c);
  ASSERT_TRUE(decode_claims(bytes).is_ok());
  EXPECT_FALSE(decode_claims(bytes + "x").is_ok());                        // trailing
  EXPECT_FALSE(decode_claims(bytes.substr(0, bytes.size() - 1)).is_ok());  // cut
  std::string kind = bytes;
  kind[0] = 9;
  EXPECT_FALSE(decode_claims(kind).is_ok());
  std::string as_open = bytes;
  as_open[0] = static_cast<char>(LinkKind::kOpen);  // an open link carrying a URL
  EXPECT_FALSE(decode_claims(as_open).is_ok());
  // An overlong varint for the time (0x80 0x00 is a second spelling of 0).
  LinkClaims zero{LinkKind::kOpen, {"k", "u", "", ""}, "", Timestamp()};
  std::string z = *encode_claims(zero);
  ASSERT_EQ(z[1], 0);
  std::string overlong = z.substr(0, 1) + std::string("\x80\x00", 2) + z.substr(2);
  EXPECT_FALSE(decode_claims(overlong).is_ok());
  EXPECT_FALSE(decode_claims("").is_ok());
}

TEST(NormalizeLinkUrl, Table) {
  struct Case {
    std::string in;
    std::optional<std::string> out;
  };
  const Case cases[] = {
      {"https://shop.example/a", std::string("https://shop.example/a")},
      {"  https://shop.example/a \n", std::string("https://shop.example/a")},
      {"https://shop.ex\tample/a\nb", std::string("https://shop.example/ab")},
      {"HTTP://Shop.Example/", std::string("HTTP://Shop.Example/")},
      {"http://user:pw@shop.example/", std::string("http://user:pw@shop.example/")},
      {"https://shop.example/é?q=ü", std::string("https://shop.example/é?q=ü")},
      {"https://", std::nullopt},
      {"https://@/", std::nullopt},
      {"https://:80/", std::nullopt},
      {"mailto:a@b.example", std::nullopt},
      {"javascript:alert(1)", std::nullopt},
      {"/relative", std::nullopt},
      {"https://shop.example/\x01", std::string("https://shop.example/")},  // trimmed, as browsers do
      {"https://shop.example/\x01x", std::nullopt},
      {"https://shop.example/\xff", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(normalize_link_url(c.in), c.out) << c.in;
}

TEST(ValidUtf8, Table) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("åäö €𝄞"));
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));
  EXPECT_FALSE(valid_utf8("a\x80"));
}

TEST(DeriveTrackingSecret, IsStableAndLongEnough) {
  EXPECT_EQ(derive_tracking_secret("master"), derive_tracking_secret("master"));
  EXPECT_NE(derive_tracking_secret("master"), derive_tracking_secret("master2"));
  EXPECT_EQ(derive_tracking_secret("master").size(), kMinSecretBytes);
}

}  // namespace
}  // namespace tp::tracking
