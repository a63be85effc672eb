#include "tracking/form.h"

#include <gtest/gtest.h>

namespace tp::tracking {
namespace {

TEST(ParseUrlencoded, Table) {
  const std::pair<std::string, FormFields> cases[] = {
      {"List-Unsubscribe=One-Click", {{"List-Unsubscribe", "One-Click"}}},
      {"a=1&b=2&a=3", {{"a", "1"}, {"b", "2"}, {"a", "3"}}},
      {"q=a+b%20c%2Bd", {{"q", "a b c+d"}}},
      {"x=%zz&y=%4", {{"x", "%zz"}, {"y", "%4"}}},
      {"&&a=&=b&c", {{"a", ""}, {"", "b"}, {"c", ""}}},
      {"n%C3%A4me=v%C3%A4rde", {{"näme", "värde"}}},
      {"", {}},
  };
  for (const auto& [body, fields] : cases) EXPECT_EQ(parse_urlencoded(body), fields) << body;
}

TEST(FormEncoding, Table) {
  std::string boundary;
  EXPECT_EQ(form_encoding("", nullptr), FormEncoding::kUrlEncoded);
  EXPECT_EQ(form_encoding("application/x-www-form-urlencoded", nullptr), FormEncoding::kUrlEncoded);
  EXPECT_EQ(form_encoding("Application/X-WWW-Form-Urlencoded; charset=UTF-8", nullptr), FormEncoding::kUrlEncoded);
  EXPECT_EQ(form_encoding("multipart/form-data; boundary=abc", &boundary), FormEncoding::kMultipart);
  EXPECT_EQ(boundary, "abc");
  EXPECT_EQ(form_encoding("multipart/form-data; charset=utf-8; boundary=\"a b;c\"", &boundary),
            FormEncoding::kMultipart);
  EXPECT_EQ(boundary, "a b;c");
  EXPECT_EQ(form_encoding("multipart/form-data", &boundary), FormEncoding::kUnsupported);
  EXPECT_EQ(form_encoding("application/json", nullptr), FormEncoding::kUnsupported);
  EXPECT_EQ(form_encoding("text/plain", nullptr), FormEncoding::kUnsupported);
}

TEST(ParseMultipart, Rfc8058AndBrowserShapes) {
  // As in RFC 8058 §8.1 (CRLF line ends).
  const std::string rfc =
      "--XXXXboundary text\r\n"
      "Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n"
      "\r\n"
      "One-Click\r\n"
      "--XXXXboundary text--\r\n";
  auto fields = parse_form("multipart/form-data; boundary=\"XXXXboundary text\"", rfc);
  ASSERT_TRUE(fields.is_ok()) << fields.status().message();
  EXPECT_EQ(*fields, (FormFields{{"List-Unsubscribe", "One-Click"}}));

  const std::string browser =
      "preamble\r\n"
      "------WebKitFormBoundary7MA4YWxk\r\n"
      "Content-Disposition: form-data; name=\"form\"\r\n\r\n"
      "preferences\r\n"
      "------WebKitFormBoundary7MA4YWxk\r\n"
      "content-disposition: form-data; name=purpose\r\n"
      "Content-Type: text/plain\r\n\r\n"
      "offers\r\n"
      "------WebKitFormBoundary7MA4YWxk\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
      "\r\n"
      "------WebKitFormBoundary7MA4YWxk--";
  fields = parse_multipart(browser, "----WebKitFormBoundary7MA4YWxk");
  ASSERT_TRUE(fields.is_ok()) << fields.status().message();
  EXPECT_EQ(*fields, (FormFields{{"form", "preferences"}, {"purpose", "offers"}, {"empty", ""}}));

  const std::string bare_lf = "--b\nContent-Disposition: form-data; name=\"a\"\n\nx\n--b--\n";
  fields = parse_multipart(bare_lf, "b");
  ASSERT_TRUE(fields.is_ok()) << fields.status().message();
  EXPECT_EQ(*fields, (FormFields{{"a", "x"}}));
}

TEST(ParseMultipart, Errors) {
  const std::pair<std::string, std::string> cases[] = {
      {"no boundary here", "form: the multipart boundary does not occur in the body"},
      {"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
       "form: a multipart part has no Content-Disposition name"},
      {"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx", "form: a multipart part is cut off"},
      {"--b\r\nContent-Disposition: form-data; name=\"a\"", "form: a multipart part has no end of headers"},
      {"--b", "form: a multipart part is cut off"},
  };
  for (const auto& [body, error] : cases) {
    auto fields = parse_multipart(body, "b");
    ASSERT_FALSE(fields.is_ok()) << body;
    EXPECT_EQ(fields.status().message(), error);
  }
  EXPECT_EQ(parse_form("application/json", "{}").status().message(),
            "form: Content-Type 'application/json' is not application/x-www-form-urlencoded or multipart/form-data "
            "with a boundary");
}

}  // namespace
}  // namespace tp::tracking
