#include "tracking/rewrite.h"

#include <gtest/gtest.h>

#include <regex>

#include "base/text.h"

namespace tp::tracking {
namespace {

const std::string kSecret = "rewrite-test-secret-0123456789abcdef";
const Timestamp kNow = Timestamp(std::chrono::seconds(1795510800));

LinkContext context() { return {"42:welcome:0", "u1", "onboarding", "welcome"}; }

struct Fixture {
  ManualClock clock{kNow};
  LinkSigner signer = std::move(LinkSigner::create(kSecret, "https://t.shop.example", clock)).value();

  // Expands {click:URL} to the escaped click link for URL and {pixel} to the open pixel tag.
  std::string expand(const std::string& expected) {
    std::string out;
    size_t i = 0;
    while (i < expected.size()) {
      if (expected.compare(i, 7, "{click:") == 0) {
        size_t end = expected.find('}', i);
        std::string url = expected.substr(i + 7, end - i - 7);
        out += escape_html(*signer.url_for({LinkKind::kClick, context(), url, kNow}));
        i = end + 1;
      } else if (expected.compare(i, 7, "{pixel}") == 0) {
        out += open_pixel_tag(*signer.url_for({LinkKind::kOpen, context(), {}, kNow}));
        i += 7;
      } else {
        out.push_back(expected[i++]);
      }
    }
    return out;
  }
};

struct Case {
  std::string name;
  std::string html;
  std::string expected;  // with {click:URL} and {pixel}
  int tracked;
  int kept = 0;
};

TEST(RewriteHtml, Table) {
  const std::string long_url = "https://shop.example/" + std::string(kMaxLinkUrlBytes, 'x');
  const Case cases[] = {
      {"double quotes", R"(<p><a href="https://shop.example/a">Shop</a></p>)",
       R"(<p><a href="{click:https://shop.example/a}">Shop</a></p>{pixel})", 1},
      {"single quotes", R"(<a href='http://shop.example/b'>b</a>)",
       R"(<a href="{click:http://shop.example/b}">b</a>{pixel})", 1},
      {"unquoted", R"(<a href=https://shop.example/c>c</a>)",
       R"(<a href="{click:https://shop.example/c}">c</a>{pixel})", 1},
      {"unquoted up to >", R"(<a href=https://shop.example/>c</a>)",
       R"(<a href="{click:https://shop.example/}">c</a>{pixel})", 1},
      {"&amp; decoded before signing", R"(<a href="https://shop.example/?a=1&amp;b=2">x</a>)",
       R"(<a href="{click:https://shop.example/?a=1&b=2}">x</a>{pixel})", 1},
      {"numeric references", R"(<a href="https://shop.example/?a=1&#38;b=2&#x26;c=3">x</a>)",
       R"(<a href="{click:https://shop.example/?a=1&b=2&c=3}">x</a>{pixel})", 1},
      {"bare & kept", R"(<a href="https://shop.example/?a=1&b=2">x</a>)",
       R"(<a href="{click:https://shop.example/?a=1&b=2}">x</a>{pixel})", 1},
      {"legacy name before = is literal", R"(<a href="https://shop.example/?a=1&copy=2&amp=3">x</a>)",
       R"(<a href="{click:https://shop.example/?a=1&copy=2&amp=3}">x</a>{pixel})", 1},
      {"&quot; round trip", R"(<a href="https://shop.example/?q=&quot;hat&quot;">x</a>)",
       R"(<a href="{click:https://shop.example/?q="hat"}">x</a>{pixel})", 1},
      {"upper case", R"(<A HREF="HTTPS://SHOP.EXAMPLE/">X</A>)",
       R"(<A HREF="{click:HTTPS://SHOP.EXAMPLE/}">X</A>{pixel})", 1},
      {"attributes in any order",
       R"(<a class="btn" target="_blank" href="https://shop.example/d" style="color:#fff">d</a>)",
       R"(<a class="btn" target="_blank" href="{click:https://shop.example/d}" style="color:#fff">d</a>{pixel})", 1},
      {"spaces around =", R"(<a href = "https://shop.example/e" >e</a>)",
       R"(<a href = "{click:https://shop.example/e}" >e</a>{pixel})", 1},
      {"tab and newline in tag", "<a\n\thref=\"https://shop.example/f\"\n>f</a>",
       "<a\n\thref=\"{click:https://shop.example/f}\"\n>f</a>{pixel}", 1},
      {"line break inside URL dropped", "<a href=\"https://shop.example/\n  g\">g</a>",
       "<a href=\"{click:https://shop.example/  g}\">g</a>{pixel}", 1},
      {"surrounding spaces trimmed", R"(<a href="  https://shop.example/h  ">h</a>)",
       R"(<a href="{click:https://shop.example/h}">h</a>{pixel})", 1},
      {"self-closing", R"(<a href="https://shop.example/i"/>)", R"(<a href="{click:https://shop.example/i}"/>{pixel})",
       1},
      {"area", R"(<map><area shape="rect" coords="0,0,1,1" href="https://shop.example/j"></map>)",
       R"(<map><area shape="rect" coords="0,0,1,1" href="{click:https://shop.example/j}"></map>{pixel})", 1},
      {"first href wins", R"(<a href="https://one.example/" href="https://two.example/">x</a>)",
       R"(<a href="{click:https://one.example/}" href="https://two.example/">x</a>{pixel})", 1},
      {"data-href is not href", R"(<a data-href="https://shop.example/k" href="#top">k</a>)",
       R"(<a data-href="https://shop.example/k" href="#top">k</a>{pixel})", 0},
      {"mailto tel anchor relative javascript",
       R"h(<a href="mailto:help@shop.example">m</a><a href="tel:+4612345">t</a><a href="#top">a</a><a href="/r">r</a><a href="javascript:void(0)">j</a><a href="//cdn.example/x">p</a>)h",
       R"h(<a href="mailto:help@shop.example">m</a><a href="tel:+4612345">t</a><a href="#top">a</a><a href="/r">r</a><a href="javascript:void(0)">j</a><a href="//cdn.example/x">p</a>{pixel})h",
       0},
      {"tracking links left alone",
       R"(<a href="https://t.shop.example/t/u/abc.def">Unsubscribe</a> <a href="HTTPS://T.SHOP.EXAMPLE/t/p/x.y">Prefs</a>)",
       R"(<a href="https://t.shop.example/t/u/abc.def">Unsubscribe</a> <a href="HTTPS://T.SHOP.EXAMPLE/t/p/x.y">Prefs</a>{pixel})",
       0, 2},
      {"opted out", R"(<a data-tp-no-track href="https://shop.example/l">l</a>)",
       R"(<a data-tp-no-track href="https://shop.example/l">l</a>{pixel})", 0, 1},
      {"too long", "<a href=\"" + long_url + "\">x</a>", "<a href=\"" + long_url + "\">x</a>{pixel}", 0, 1},
      {"no value", R"(<a href>x</a><a href=>y</a>)", R"(<a href>x</a><a href=>y</a>{pixel})", 0},
      {"comment", R"(<!-- <a href="https://shop.example/hidden"> --><a href="https://shop.example/m">m</a>)",
       R"(<!-- <a href="https://shop.example/hidden"> --><a href="{click:https://shop.example/m}">m</a>{pixel})", 1},
      {"abrupt comment", R"(<!--><a href="https://shop.example/n">n</a>)",
       R"(<!--><a href="{click:https://shop.example/n}">n</a>{pixel})", 1},
      {"Outlook conditional VML button",
       R"(<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="https://shop.example/btn" style="height:40px" arcsize="10%"><center>Go</center></v:roundrect><![endif]--><!--[if !mso]><!--><a href="https://shop.example/btn">Go</a><!--<![endif]-->)",
       R"(<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="{click:https://shop.example/btn}" style="height:40px" arcsize="10%"><center>Go</center></v:roundrect><![endif]--><!--[if !mso]><!--><a href="{click:https://shop.example/btn}">Go</a><!--<![endif]-->)"
       "{pixel}",
       2},
      {"style, script, title and textarea are text",
       R"(<title><a href="https://x.example/1"></title><style>a[href^="http"]{color:red} /* <a href="https://x.example/2"> */</style><script>var a='<a href="https://x.example/3">';</script><textarea><a href="https://x.example/4"></textarea><a href="https://shop.example/o">o</a>)",
       R"(<title><a href="https://x.example/1"></title><style>a[href^="http"]{color:red} /* <a href="https://x.example/2"> */</style><script>var a='<a href="https://x.example/3">';</script><textarea><a href="https://x.example/4"></textarea><a href="{click:https://shop.example/o}">o</a>{pixel})",
       1},
      {"STYLE upper case end tag", R"(<STYLE>p{}</STYLE ><a href="https://shop.example/p">p</a>)",
       R"(<STYLE>p{}</STYLE ><a href="{click:https://shop.example/p}">p</a>{pixel})", 1},
      {"CDATA", R"(<![CDATA[<a href="https://x.example/">]]><a href="https://shop.example/q">q</a>)",
       R"(<![CDATA[<a href="https://x.example/">]]><a href="{click:https://shop.example/q}">q</a>{pixel})", 1},
      {"doctype and xml declaration", R"(<?xml version="1.0"?><!DOCTYPE html><a href="https://shop.example/r">r</a>)",
       R"(<?xml version="1.0"?><!DOCTYPE html><a href="{click:https://shop.example/r}">r</a>{pixel})", 1},
      {"other tags starting with a", R"(<abbr href="https://x.example/">x</abbr><address>y</address>)",
       R"(<abbr href="https://x.example/">x</abbr><address>y</address>{pixel})", 0},
      {"less-than in text", R"(<p>1 < 2 and 3 <> 4</p><a href="https://shop.example/s">s</a>)",
       R"(<p>1 < 2 and 3 <> 4</p><a href="{click:https://shop.example/s}">s</a>{pixel})", 1},
      {"pixel before </body>", R"(<html><body><p>Hi</p></body></html>)",
       R"(<html><body><p>Hi</p>{pixel}</body></html>)", 0},
      {"pixel before the last </BODY >", R"(<body>a</body><body>b</BODY ></html>)",
       R"(<body>a</body><body>b{pixel}</BODY ></html>)", 0},
      {"link after </body>", R"(<body>x</body><a href="https://shop.example/t">t</a>)",
       R"(<body>x{pixel}</body><a href="{click:https://shop.example/t}">t</a>)", 1},
      {"</body> in a comment is not the end", R"(<body>x<!-- </body> --></body>)",
       R"(<body>x<!-- </body> -->{pixel}</body>)", 0},
      {"</bodyx> is not </body>", R"(<body>x</bodyx>)", R"(<body>x</bodyx>{pixel})", 0},
      {"unterminated tag", R"(<p>x</p><a href="https://shop.example/u)",
       R"(<p>x</p><a href="https://shop.example/u{pixel})", 0},
      {"unterminated comment", R"(<!-- <a href="https://shop.example/v">)",
       R"(<!-- <a href="https://shop.example/v">{pixel})", 0},
      {"empty", "", "{pixel}", 0},
      {"non-ASCII URL and text", R"(<a href="https://shop.example/sök?q=blå">Blå</a>)",
       R"(<a href="{click:https://shop.example/sök?q=blå}">Blå</a>{pixel})", 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f;
    auto result = rewrite_html(c.html, f.signer, context());
    ASSERT_TRUE(result.is_ok()) << result.status().message();
    EXPECT_EQ(result->html, f.expand(c.expected));
    EXPECT_EQ(result->links_tracked, c.tracked);
    EXPECT_EQ(result->links_kept, c.kept);
    EXPECT_TRUE(result->pixel_added);
  }
}

TEST(RewriteHtml, EveryClickLinkVerifiesToItsDestination) {
  Fixture f;
  const std::string html = R"(<!DOCTYPE html>
<html><head><title>Spring sale</title><style>.b{color:#fff}</style></head>
<BODY style="margin:0">
<table role="presentation"><tr><td>
<a href="https://shop.example/sale?utm_source=email&amp;utm_campaign=spring" class=b>Shop now</a>
<a href='https://shop.example/p/1'><img src="https://cdn.shop.example/1.jpg" alt="Shoe"></a>
<a href="https://t.shop.example/t/u/already.signed">Unsubscribe</a>
</td></tr></table>
</BODY></html>)";
  auto result = rewrite_html(html, f.signer, context());
  ASSERT_TRUE(result.is_ok());
  EXPECT_EQ(result->links_tracked, 2);
  std::regex click(R"re(href="https://t\.shop\.example/t/c/([A-Za-z0-9_\-.]+)")re");
  std::vector<std::string> urls;
  for (std::sregex_iterator it(result->html.begin(), result->html.end(), click), end; it != end; ++it) {
    auto claims = f.signer.verify((*it)[1].str());
    ASSERT_TRUE(claims.is_ok());
    EXPECT_EQ(claims->kind, LinkKind::kClick);
    EXPECT_EQ(claims->context.user_id, "u1");
    EXPECT_EQ(claims->context.step, "welcome");
    urls.push_back(claims->url);
  }
  EXPECT_EQ(urls, (std::vector<std::string>{"https://shop.example/sale?utm_source=email&utm_campaign=spring",
                                            "https://shop.example/p/1"}));
  // The pixel and the returned links belong to the same message.
  EXPECT_NE(result->html.find(escape_html(result->links.open_url) + "\" width=\"1\""), std::string::npos);
  EXPECT_LT(result->html.find("/t/o/"), result->html.find("</BODY>"));
  auto unsubscribe =
      f.signer.verify(result->links.unsubscribe_url.substr(result->links.unsubscribe_url.rfind('/') + 1));
  ASSERT_TRUE(unsubscribe.is_ok());
  EXPECT_EQ(unsubscribe->kind, LinkKind::kUnsubscribe);
  EXPECT_EQ(result->links.unsubscribe_url.rfind("https://t.shop.example/t/u/", 0), 0u);
  EXPECT_EQ(result->links.preferences_url.rfind("https://t.shop.example/t/p/", 0), 0u);
  // The same input at the same second gives the same bytes (a retried send renders the same mail).
  EXPECT_EQ(rewrite_html(html, f.signer, context())->html, result->html);
}

TEST(RewriteHtml, Options) {
  Fixture f;
  const std::string html = R"(<body><a href="https://shop.example/">x</a></body>)";
  auto no_clicks = rewrite_html(html, f.signer, context(), {.track_clicks = false});
  EXPECT_EQ(no_clicks->links_tracked, 0);
  EXPECT_EQ(no_clicks->html, f.expand(R"(<body><a href="https://shop.example/">x</a>{pixel}</body>)"));
  auto no_pixel = rewrite_html(html, f.signer, context(), {.add_open_pixel = false});
  EXPECT_FALSE(no_pixel->pixel_added);
  EXPECT_EQ(no_pixel->html, f.expand(R"(<body><a href="{click:https://shop.example/}">x</a></body>)"));
}

TEST(RewriteHtml, RefusesAContextThatCannotBeSigned) {
  Fixture f;
  auto result = rewrite_html("<p>x</p>", f.signer, {"key", "", "j", "s"});
  ASSERT_FALSE(result.is_ok());
  EXPECT_EQ(result.status().message(), "user_id: required");
}

TEST(DecodeAttributeValue, Table) {
  const std::pair<std::string, std::string> cases[] = {
      {"a&amp;b", "a&b"},
      {"a&AMP;b", "a&AMP;b"},
      {"&lt;&gt;&quot;&apos;", "<>\"'"},
      {"&#65;&#x42;&#X43;", "ABC"},
      {"&#65", "A"},
      {"&#;", "&#;"},
      {"&#0;", "\xEF\xBF\xBD"},
      {"&#x110000;", "\xEF\xBF\xBD"},
      {"&#xD800;", "\xEF\xBF\xBD"},
      {"&amp", "&"},
      {"&ampx", "&ampx"},
      {"&amp=", "&amp="},
      {"&nbsp;", "\xC2\xA0"},
      {"&unknown;", "&unknown;"},
      {"&", "&"},
      {"&#99999999999999999999;", "\xEF\xBF\xBD"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(decode_attribute_value(in), out) << in;
}

TEST(EscapeHtml, EscapesTheFive) {
  EXPECT_EQ(escape_html(R"(<a href="x">'&')"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;");
}

}  // namespace
}  // namespace tp::tracking
