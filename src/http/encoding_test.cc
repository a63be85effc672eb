#include "http/encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "http/auth.h"
#include "base/crypto.h"

namespace tp::http {
namespace {

std::string gzip(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, text.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(Gunzip, RoundTripAndLimits) {
  std::string text(100000, 'x');
  auto r = gunzip(gzip(text), 200000);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, text);
  auto bomb = gunzip(gzip(text), 1000);
  EXPECT_EQ(bomb.status().code(), StatusCode::kTooLarge);
  auto junk = gunzip("not gzip at all", 1000);
  EXPECT_EQ(junk.status().code(), StatusCode::kInvalidArgument);
  auto truncated = gunzip(gzip(text).substr(0, 20), 200000);
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
}

TEST(PercentDecode, Cases) {
  EXPECT_EQ(percent_decode("%C3%85sa%20L"), "Åsa L");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_FALSE(percent_decode("%G1").has_value());
  EXPECT_FALSE(percent_decode("abc%4").has_value());
  auto q = parse_query("limit=10&before=1.2&x");
  ASSERT_TRUE(q.is_ok());
  EXPECT_EQ(q->at("limit"), "10");
  EXPECT_EQ(q->at("before"), "1.2");
}

TEST(Auth, HeaderParsing) {
  EXPECT_EQ(basic_user("Basic " + base64_encode("wk_123:")), "wk_123");
  EXPECT_EQ(basic_user("basic " + base64_encode("wk_123")), "wk_123");
  EXPECT_FALSE(basic_user("Bearer abc").has_value());
  EXPECT_FALSE(basic_user("Basic !!!").has_value());
  EXPECT_EQ(bearer_token("Bearer tp_a_1 "), "tp_a_1");
  EXPECT_NE(generate_key(storage::KeyKind::kWrite), generate_key(storage::KeyKind::kWrite));
  EXPECT_EQ(generate_key(storage::KeyKind::kAdmin).rfind("tp_a_", 0), 0u);
}

}  // namespace
}  // namespace tp::http
